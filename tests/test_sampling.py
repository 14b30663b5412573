"""Sampler and logit masks: sampled ids never break a constraint, temperature/top-p/seed behave."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from improvd.daemon.sampling import Constraints, Sampler, legal_mask
from improvd.daemon.tokenizers.performance import PerformanceTokenizer

TOK = PerformanceTokenizer()


@st.composite
def situations(draw):
    lo = draw(st.integers(0, 127))
    hi = draw(st.integers(lo, 127))
    c = Constraints(lo, hi, draw(st.integers(1, 12)), max_tokens_per_instant=8)
    sounding = draw(st.sets(st.integers(0, 127), max_size=c.max_polyphony))
    max_shift = draw(st.one_of(st.none(), st.integers(0, 120)))
    at_instant = draw(st.integers(0, 10))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.floats(0.1, 30))
    return c, sounding, max_shift, at_instant, seed, scale


@settings(max_examples=300, deadline=None)
@given(situations(), st.floats(0.1, 3.0), st.floats(0.05, 1.0))
def test_sampled_tokens_never_violate_the_masks(situation, temperature, top_p):
    c, sounding, max_shift, at_instant, seed, scale = situation
    rng = np.random.default_rng(seed)
    logits = (rng.normal(0, scale, TOK.vocab_size)).astype(np.float32)
    mask = legal_mask(TOK, sounding, c, max_shift_steps=max_shift, tokens_at_instant=at_instant)
    sampler = Sampler(temperature, top_p, seed)
    for _ in range(20):
        token = sampler.sample(logits, mask)
        assert mask[token]
        kind, value = TOK.describe(token)
        if kind == "note_on":
            assert c.pitch_min <= value <= c.pitch_max
            assert value not in sounding and len(sounding) < c.max_polyphony
            assert at_instant < c.max_tokens_per_instant
        elif kind == "note_off":
            assert value in sounding
        elif kind == "time_shift" and max_shift is not None:
            assert value <= max(1, max_shift)  # 1: the forced step when nothing else is legal
        elif kind == "velocity":
            assert at_instant < c.max_tokens_per_instant


def test_masks_follow_the_rules_token_by_token():
    c = Constraints(60, 62, max_polyphony=2)
    mask = legal_mask(TOK, {61}, c, max_shift_steps=3)
    allowed = {TOK.describe(i) for i in np.flatnonzero(mask)}
    assert {("note_on", 60), ("note_on", 62), ("note_off", 61)} <= allowed
    assert ("note_on", 61) not in allowed and ("note_on", 63) not in allowed
    assert ("note_off", 60) not in allowed
    assert {v for k, v in allowed if k == "time_shift"} == {1, 2, 3}
    full = legal_mask(TOK, {60, 61}, c)
    assert not any(TOK.describe(i)[0] == "note_on" for i in np.flatnonzero(full))
    # No time may pass before the first note: only notes and velocities are left.
    start = legal_mask(TOK, set(), c, max_shift_steps=0)
    assert {TOK.describe(i)[0] for i in np.flatnonzero(start)} == {"note_on", "velocity"}
    # A full instant with no time allowed still has one way forward: the shortest shift.
    stuck = legal_mask(TOK, set(), c, max_shift_steps=0, tokens_at_instant=c.max_tokens_per_instant)
    assert list(np.flatnonzero(stuck)) == [TOK.time_shift(1)]


def test_top_p_keeps_only_the_nucleus():
    logits = np.log(np.array([0.5, 0.3, 0.15, 0.05]))
    sampler = Sampler(1.0, 0.8, seed=0)
    drawn = {sampler.sample(logits, np.ones(4, bool)) for _ in range(500)}
    assert drawn == {0, 1}
    p = sampler.probabilities(logits, np.ones(4, bool))
    assert np.allclose(p, [0.625, 0.375, 0, 0])


def test_low_temperature_is_nearly_greedy_and_high_is_flat():
    logits = np.array([2.0, 1.0, 0.0, -1.0])
    everything = np.ones(4, bool)
    cold = Sampler(0.05, 1.0, seed=0).probabilities(logits, everything)
    hot = Sampler(5.0, 1.0, seed=0).probabilities(logits, everything)
    assert cold[0] > 0.999
    assert hot.max() - hot.min() < 0.25


def test_seed_makes_draws_repeatable():
    logits = np.random.default_rng(3).normal(size=TOK.vocab_size)
    mask = legal_mask(TOK, set(), Constraints())
    draws = [[Sampler(1.0, 0.95, seed=s).sample(logits, mask) for _ in range(1)] for s in (7, 7)]
    a = [Sampler(1.0, 0.95, seed=7) for _ in range(2)]
    seq = [[s.sample(logits, mask) for _ in range(50)] for s in a]
    assert seq[0] == seq[1] and draws[0] == draws[1]
    other = Sampler(1.0, 0.95, seed=8)
    assert [other.sample(logits, mask) for _ in range(50)] != seq[0]


def test_non_finite_logits_fall_back_to_the_legal_tokens():
    logits = np.full(TOK.vocab_size, np.nan)
    mask = legal_mask(TOK, {64}, Constraints(60, 70, 1), max_shift_steps=0)
    sampler = Sampler(seed=1)
    assert all(mask[sampler.sample(logits, mask)] for _ in range(50))
