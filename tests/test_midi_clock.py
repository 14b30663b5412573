"""MidiClock and ClockSync on synthetic tick streams: tempo, phase, tempo jumps, transport."""

from __future__ import annotations

import queue

import mido
import numpy as np
import pytest

from improvd.daemon.clock_sync import TRANSPORT_STOP, ClockSync
from improvd.daemon.midi_clock import MidiClock

CLOCK, START, STOP = mido.Message("clock"), mido.Message("start"), mido.Message("stop")


def tick_times(bpm: float, beats: float, t0: float = 100.0, jitter_s: float = 0.0007, seed=0):
    """Tick stamps as a receiver sees them: on time plus 0..jitter late (a JACK cycle, a poll)."""
    rng = np.random.default_rng(seed)
    n = round(beats * 24)
    return t0 + np.arange(n) * 60 / bpm / 24 + rng.uniform(0, jitter_s, n)


def feed_ticks(clock: MidiClock, times) -> None:
    for t in times:
        clock.feed(CLOCK, float(t))


@pytest.mark.parametrize("bpm", [90, 120, 160])
def test_tempo_and_bar_lines_from_start(bpm):
    clock = MidiClock(beats_per_bar=4)
    times = tick_times(bpm, 9)
    clock.feed(START, times[0] - 0.001)
    feed_ticks(clock, times)
    pulse = clock.pulse(times[-1], subdivision=4)
    assert pulse.bpm == pytest.approx(bpm, rel=1e-3)
    beat = 60 / bpm
    # The first tick after Start is bar 1, beat 1: every bar line is 4 beats after it.
    assert (pulse.downbeat - 100.0) / (4 * beat) == pytest.approx(
        round((pulse.downbeat - 100.0) / (4 * beat)), abs=0.002)
    assert pulse.beats_per_bar == 4 and pulse.tatum_s == pytest.approx(beat / 4, rel=1e-3)
    # The next beat predicted within a millisecond of where the clock puts it (+ mean jitter).
    nxt = pulse.next_beat(times[-1])
    truth = 100.0 + np.ceil((times[-1] - 100.0) / beat) * beat + 0.00035
    assert abs(nxt - truth) < 0.001


def test_a_tempo_jump_is_locked_within_a_beat():
    clock = MidiClock()
    clock.feed(START, 99.999)
    before = tick_times(120, 8)
    jump_at = before[-1] - 0.00035 + 60 / 120 / 24
    after = tick_times(140, 4, t0=jump_at, seed=1)
    feed_ticks(clock, before)
    beat = 60 / 140
    feed_ticks(clock, after[:24])  # one beat of the new tempo
    assert clock.relocks == 1
    pulse = clock.pulse(after[23])
    assert pulse.bpm == pytest.approx(140, rel=0.01)
    nxt = pulse.next_beat(after[23] + 0.01)
    truth = jump_at + np.ceil((after[23] + 0.01 - jump_at) / beat) * beat + 0.00035
    assert abs(nxt - truth) < 0.001


def test_a_batch_of_late_stamps_is_no_tempo_change():
    clock = MidiClock()
    clock.feed(START, 99.999)
    times = tick_times(120, 6, jitter_s=0.0)
    times[100:104] += 0.006  # a reader thread woke 6 ms late: four ticks stamped late together
    feed_ticks(clock, times)
    assert clock.relocks == 0
    pulse = clock.pulse(times[-1])
    assert pulse.bpm == pytest.approx(120, rel=1e-4)
    assert abs(pulse.origin - (100.0 + 5 * 0.5)) < 0.0002


def test_a_busy_machines_stamps_are_no_tempo_change():
    """Stamps 0..3 ms late, and every half beat a batch of three ticks 4..9 ms late: the tempo
    holds and no change is seen (a few false relocks would leave a line through a few stamps,
    steep or flat by chance, and the answers would drift off the grid)."""
    clock = MidiClock()
    clock.feed(START, 99.999)
    rng = np.random.default_rng(3)
    times = tick_times(120, 32, jitter_s=0.003, seed=3)
    for start in range(30, len(times) - 3, 12):
        times[start:start + 3] += rng.uniform(0.004, 0.009)
    for i, t in enumerate(times):
        clock.feed(CLOCK, float(t))
        if i >= 48:
            pulse = clock.pulse(float(t))
            assert pulse.bpm == pytest.approx(120, rel=0.003), i
    assert clock.relocks == 0


def test_a_restart_at_another_tempo_after_a_short_stop_starts_a_new_line():
    clock = MidiClock()
    clock.feed(START, 99.999)
    before = tick_times(120, 4)
    feed_ticks(clock, before)
    clock.feed(STOP, before[-1] + 0.005)
    # Started again 0.2 s later (less than the two beats that count as a silent clock) at 90.
    again = before[-1] + 0.2
    clock.feed(START, again - 0.001)
    after = tick_times(90, 1, t0=again, seed=4)
    feed_ticks(clock, after)
    pulse = clock.pulse(after[-1])
    assert pulse.bpm == pytest.approx(90, rel=0.01)
    assert abs(pulse.downbeat - again) < 0.001


def test_a_lost_or_doubled_tick_does_not_move_the_beat():
    clock = MidiClock()
    clock.feed(START, 99.999)
    times = list(tick_times(120, 8, seed=5))
    del times[60]  # lost on the way
    times.insert(120, times[120] + 0.0002)  # and one arrives twice
    feed_ticks(clock, times)
    assert clock.lost == 1 and clock.relocks == 0
    pulse = clock.pulse(times[-1])
    # The last tick is song position 191 (8 beats from 0): the next beat is beat 8, at 104 s.
    assert pulse.next_beat(times[-1]) == pytest.approx(104.0, abs=0.001)
    assert pulse.downbeat == pytest.approx(104.0 - 2.0, abs=0.001)


def test_stop_continue_and_song_position():
    clock = MidiClock()
    clock.feed(START, 99.999)
    times = tick_times(120, 2, jitter_s=0.0)
    feed_ticks(clock, times)
    assert clock.running and clock.pulse(times[-1]) is not None
    clock.feed(STOP, times[-1] + 0.01)
    assert clock.stopped and clock.pulse(times[-1] + 0.01) is None
    # Located to bar 3 (32 16ths) and continued 5 s later: that tick is bar 3's downbeat.
    clock.feed(mido.Message("songpos", pos=32), 103.0)
    clock.feed(mido.Message("continue"), 105.0)
    resumed = tick_times(120, 2, t0=105.001, jitter_s=0.0)
    feed_ticks(clock, resumed)
    pulse = clock.pulse(resumed[-1])
    assert pulse.downbeat == pytest.approx(105.001, abs=0.0002)
    assert clock.position_at(105.001) == pytest.approx(32 * 6, abs=0.01)
    # A time seconds ahead (where an answer is planned to end) is a song position too.
    assert clock.position_at(105.001 + 4.0) == pytest.approx(32 * 6 + 4 * 48, abs=0.05)
    assert clock.time_of(32 * 6 + 4 * 48, resumed[-1]) == pytest.approx(109.001, abs=0.0005)


def test_a_clock_without_start_gives_beats_but_no_bar_lines():
    clock = MidiClock()
    times = tick_times(100, 3)
    feed_ticks(clock, times[:20])
    assert clock.pulse(times[19]) is None  # less than a beat of ticks: not yet
    feed_ticks(clock, times[20:])
    pulse = clock.pulse(times[-1])
    assert pulse is not None and pulse.bpm == pytest.approx(100, rel=2e-3)
    assert pulse.beats_per_bar is None


def test_a_silent_clock_is_no_pulse():
    clock = MidiClock()
    clock.feed(START, 99.999)
    times = tick_times(120, 2)
    feed_ticks(clock, times)
    assert clock.pulse(times[-1] + 0.5) is not None
    assert clock.pulse(times[-1] + 1.5) is None  # two beats without a tick


def test_sync_keeps_clock_messages_out_of_the_queue_and_queues_stop():
    q = queue.Queue()
    sync = ClockSync(q, source="input")
    assert sync.take(CLOCK, 1.0) and sync.take(START, 1.0)
    assert q.empty()
    assert sync.take(STOP, 2.0)
    assert q.get_nowait() == (TRANSPORT_STOP, 2.0)
    assert not sync.take(mido.Message("note_on", note=60, velocity=90), 2.0)
    # With the clock on a port of its own, clock messages on the player's input are dropped.
    other = ClockSync(q, source="port")
    assert other.take(START, 3.0) and not other.clock.running
    other.take_from_port(START, 3.0)
    assert other.clock.running


def test_a_note_off_never_comes_before_its_note_on_when_the_grid_moves():
    """A DAW's tempo change moves the grid between a note's start and its end: snapped to the
    new grid, the note-off could land before the note-on, and the note would never end."""
    import dataclasses

    from improvd.daemon.analysis import analyze_notes
    from improvd.daemon.config import SteeringConfig
    from improvd.daemon.events import Event, Note
    from improvd.daemon.pulse import Pulse
    from improvd.daemon.steering import Steering
    from improvd.daemon.tokenizers.performance import PerformanceTokenizer

    played = [Note(62 + 2 * (i % 4), 80, 0.25 * i, 0.25 * i + 0.2) for i in range(16)]
    analysis = dataclasses.replace(analyze_notes(played), pulse=Pulse(0.125, 10.0, 4, 1.0))
    s = Steering(SteeringConfig(), analysis, PerformanceTokenizer(), 10.0, 14.0,
                 np.random.default_rng(0))
    on = s.shape(Event(10.504, "note_on", 64, 80))
    assert on.time == pytest.approx(10.5)  # snapped onto the grid
    s.pulse = Pulse(0.125, 9.995, 4, 1.0)  # the clock's grid moved 5 ms earlier meanwhile...
    off = s.shape(Event(10.500, "note_off", 64, 0))  # ...and would pull the note-off earlier
    assert off.time >= on.time
