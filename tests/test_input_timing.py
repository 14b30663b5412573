"""input_timing.py: a slow look at the input keeps the messages' times (unit level; the real
JACK port is exercised in test_ports.py)."""

from __future__ import annotations

import pytest

from improvd.daemon.input_timing import (
    ACTIVE_S,
    FAST_POLL_S,
    IDLE_POLL_S,
    ArrivalStamps,
    poll_interval,
)


def test_the_first_batch_is_counted_back_from_now():
    stamps = ArrivalStamps().stamps([0.0, 0.25, 0.5], since=-float("inf"), now=10.0)
    assert stamps == pytest.approx([9.25, 9.5, 10.0])


def test_later_batches_chain_from_the_last_stamp_not_from_the_look():
    s = ArrivalStamps()
    s.stamps([0.0], since=-float("inf"), now=10.0)
    # Read 9 ms after it arrived (an idle look): the delta places it, not the reading time.
    assert s.stamps([1.5], since=11.49, now=11.509) == pytest.approx([11.5])
    assert s.stamps([0.012, 0.003], since=11.509, now=11.52) == pytest.approx([11.512, 11.515])


def test_a_wrong_delta_is_kept_inside_the_window_the_message_arrived_in():
    s = ArrivalStamps()
    s.stamps([0.0], since=-float("inf"), now=10.0)
    # A delta measured from a message the backend dropped: too short, so the stamp would fall
    # before the last look that found the queue empty.
    assert s.stamps([0.1], since=12.0, now=12.01) == [12.0]
    # Too long: never later than the moment it was read.
    assert s.stamps([5.0], since=12.01, now=12.02) == [12.02]
    assert s.last == 12.02


def test_the_thread_looks_fast_only_while_something_goes_on():
    assert poll_interval(0.0, engine_busy=False) == FAST_POLL_S
    assert poll_interval(ACTIVE_S + 1, engine_busy=True) == FAST_POLL_S
    assert poll_interval(ACTIVE_S + 1, engine_busy=False) == IDLE_POLL_S > FAST_POLL_S
    # Nothing to chain the first message's time from: looked for fast until it has come.
    assert poll_interval(ACTIVE_S + 1, engine_busy=False, anchored=False) == FAST_POLL_S
