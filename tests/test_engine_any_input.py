"""Property: whatever the player (or a broken backend) sends, the engine survives, releases every
answer note, and answers a normal call afterwards. Hypothesis draws the message sequences."""

from __future__ import annotations

from engine_support import Rig, sounding
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


STUCK_KEY_S = 1.0
SILENCE_S = 0.2
MAX_RESPONSE_S = 1.0

message = st.tuples(
    st.sampled_from(["note_on", "note_off", "control_change"]),
    st.integers(0, 127), st.integers(0, 127), st.integers(0, 15),
    st.sampled_from([0.0, 0.0, 0.001, 0.01, 0.05, 0.2, 0.6]),  # time to the next message
)
# Lost note-offs and copies of the message before (the rtmidi JACK re-queue) on purpose.
sequences = st.lists(st.one_of(message, st.just("repeat")), max_size=120)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(sequences)
def test_any_input_then_a_normal_call_is_answered_and_nothing_is_left_sounding(model_path, seq):
    rig = Rig(model_path, silence_ms=int(SILENCE_S * 1000), stuck_key_s=STUCK_KEY_S,
              max_response_s=MAX_RESPONSE_S)
    last = None
    for item in seq:
        if item == "repeat":
            item = last
            if item is None:
                continue
        kind, pitch, velocity, channel, wait = item
        rig.send(kind, pitch, velocity, channel)
        rig.advance(wait)
        last = item
    # Held keys turn stale, the flood's call (if any) is answered and ends.
    rig.advance(STUCK_KEY_S + SILENCE_S + MAX_RESPONSE_S + 1.5)
    assert rig.engine.response is None
    assert not sounding(rig.engine.scheduler.output.events()), "an answer note was left on"
    before = len(rig.out.sent)
    ended = rig.phrase([60, 62, 64, 65])
    rig.advance(SILENCE_S + MAX_RESPONSE_S + 1.0)
    answer = [e for _, e in rig.out.sent[before:]]
    assert any(e.is_note_on for e in answer), f"no answer to a normal call ({ended:.2f})"
    assert not sounding(answer)
    assert all(e.channel == 0 for e in answer)
