"""`improvd run --record DIR` on a real JACK server: the file holds exactly what was played and
answered, note by note, at the times the notes really passed (within 2 ms)."""

from __future__ import annotations

import statistics
import time

import pytest

from improvd.daemon.events import Event, Note, events_to_notes
from improvd.daemon.midi_events import read_midi_tracks, to_event

from .jack_helpers import sounding

pytestmark = [pytest.mark.e2e, pytest.mark.kept_time]  # judged where JACK kept time

TOLERANCE_S = 0.002
# Two calls: the second waits for the first answer to end (a session, not one exchange).
CALLS = [
    [Note(60, 90, 0.0, 0.2), Note(64, 70, 0.25, 0.45), Note(67, 100, 0.5, 0.7),
     Note(72, 80, 0.75, 1.2)],
    [Note(62, 60, 0.0, 0.15), Note(65, 90, 0.2, 0.35), Note(69, 110, 0.4, 0.9)],
]


def aligned(expected: list[Note], got: list[Note], what: str) -> float:
    """Same notes (pitch, velocity, order) at the same times once a constant offset (the JACK
    hop between the two clocks) is taken out: every start and end within TOLERANCE_S.
    Returns the offset."""
    assert [(n.pitch, n.velocity) for n in got] == [(n.pitch, n.velocity) for n in expected], \
        f"{what}: notes differ"
    offset = statistics.median([g.start - e.start for e, g in zip(expected, got)])
    worst = max(max(abs(g.start - e.start - offset), abs(g.end - e.end - offset))
                for e, g in zip(expected, got))
    assert worst <= TOLERANCE_S, f"{what}: a time {worst * 1000:.2f} ms off"
    return offset


def test_record_writes_every_call_and_answer_note_by_note(peer, start_daemon, tmp_path):
    folder = tmp_path / "sessions"
    daemon = start_daemon(peer, ["--record", str(folder), "--silence-ms", "300", "--seed", "4"])
    played: list[Note] = []
    start = time.monotonic()
    for call in CALLS:
        played += peer.play_notes(call)
        assert peer.wait_for(lambda: peer.note_ons(since=played[-1].end), timeout=5), \
            daemon.log()[-3000:]
        assert peer.wait_quiet(0.8, timeout=10, since=start), daemon.log()[-3000:]
    assert daemon.terminate() == 0  # SIGTERM: the file is complete
    heard = [e for t, m in peer.messages(since=start) if (e := to_event(m, t)) is not None]
    answered = events_to_notes([e for e in heard if e.kind != "control_change"])
    assert not sounding(peer.messages(since=start)) and len(answered) >= 2

    files = list(folder.glob("*.mid"))
    assert len(files) == 1, files
    tracks = read_midi_tracks(files[0])
    assert set(tracks) == {"call", "answer"}
    call_offset = aligned(played, events_to_notes(tracks["call"]), "call track")
    answer_offset = aligned(answered, _notes(tracks["answer"]), "answer track")
    # The two tracks share one clock: an answer is where it was relative to its call, but for
    # the two JACK hops (peer -> daemon, daemon -> peer: a cycle of 1.3 ms each, and a busy
    # machine's delay).
    assert 0 <= call_offset - answer_offset < 0.02, (call_offset, answer_offset)
    assert "session recorded in" in daemon.log()


def _notes(events: list[Event]) -> list[Note]:
    # The answer track also holds the CC123 (all notes off) sent at shutdown.
    return events_to_notes([e for e in events if e.kind != "control_change"])


def test_record_takes_the_tempo_from_the_players_midi_clock(peer, start_daemon, tmp_path):
    import mido

    folder = tmp_path / "clocked"
    daemon = start_daemon(peer, ["--record", str(folder), "--silence-ms", "300", "--seed", "4"])
    tick = 60 / 90 / 24  # a DAW's clock at 90 bpm
    origin = time.monotonic()
    for i in range(48):
        time.sleep(max(0.0, origin + i * tick - time.monotonic()))
        peer.send(mido.Message("clock"))
    start = time.monotonic()
    peer.play_notes(CALLS[1])
    assert peer.wait_for(lambda: peer.note_ons(since=start), timeout=5), daemon.log()[-3000:]
    assert peer.wait_quiet(0.8, timeout=10, since=start)
    assert daemon.terminate() == 0
    (path,) = folder.glob("*.mid")
    midi = mido.MidiFile(path)
    bpm = mido.tempo2bpm(next(m.tempo for m in midi.tracks[0] if m.type == "set_tempo"))
    assert bpm == pytest.approx(90, abs=1.5)
    assert [n.pitch for n in events_to_notes(read_midi_tracks(path)["call"])] == [62, 65, 69]
