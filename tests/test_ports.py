"""daemon/ports.py through a real JACK server (dummy driver) and real JACK MIDI clients."""

from __future__ import annotations

import os
import time

import mido
import pytest
from e2e.jack_helpers import JackServer, MidiPeer, shared_server, unique

from improvd.daemon import jack, ports
from improvd.daemon.events import Event


@pytest.fixture(scope="module")
def server() -> JackServer:
    return shared_server()


@pytest.fixture
def peer(server):
    p = MidiPeer()
    yield p
    p.close()


class Recorder:
    """The callback the daemon gives MidiInput: records (message, time)."""

    def __init__(self):
        self.got = []

    def __call__(self, msg, t):
        self.got.append((t, msg))

    def wait(self, count, timeout=2.0):
        deadline = time.monotonic() + timeout
        while len(self.got) < count and time.monotonic() < deadline:
            time.sleep(0.005)
        return [m for _, m in self.got]


def test_virtual_input_is_seen_by_other_clients_and_receives(server, peer):
    rec = Recorder()
    port = ports.MidiInput("jack", unique("improvd"), "in", callback=rec)
    try:
        assert port.name in server.ports()
        with jack.session() as ctl:
            ctl.connect(peer.out_name, port.name)
        before = time.monotonic()
        peer.send(mido.Message("note_on", note=60, velocity=100, channel=2))
        msgs = rec.wait(1)
        assert msgs == [mido.Message("note_on", note=60, velocity=100, channel=2)]
        t = rec.got[0][0]
        assert before <= t <= time.monotonic()  # stamped on arrival with the monotonic clock
    finally:
        port.close()
    assert port.name not in server.ports()


def test_connect_by_substring_both_directions(server, peer):
    client = unique("improvd")
    rec = Recorder()
    # The peer's port names contain a unique id: a substring of it is enough.
    inp = ports.MidiInput("jack", client, "in", connect=[peer.name + ":"], callback=rec)
    out = ports.MidiOutput("jack", client, "out", connect=[peer.name + "-ears"])
    try:
        assert out.name == f"{client}-out:out" and inp.name == f"{client}:in"
        connections = server.connections()
        assert f"{inp.name}\n   {peer.out_name}" in connections
        assert f"{out.name}\n   {peer.in_name}" in connections
        peer.send(mido.Message("note_on", note=64, velocity=80))
        assert rec.wait(1) == [mido.Message("note_on", note=64, velocity=80)]
        out.send_event(Event(0.0, "note_on", 67, 70, channel=0), channel=3)
        assert peer.wait_for(lambda: peer.messages(), 2)
        assert peer.messages()[0][1] == mido.Message("note_on", note=67, velocity=70, channel=3)
    finally:
        inp.close()
        out.close()


def test_missing_port_names_the_substring_and_lists_ports(server, peer):
    with pytest.raises(ports.PortError) as err:
        ports.MidiInput("jack", unique("improvd"), "in", connect=["no-such-keyboard"],
                        callback=Recorder())
    message = str(err.value)
    assert "no-such-keyboard" in message and peer.out_name in message


def test_taken_client_name_is_refused(server):
    client = unique("improvd")
    first = ports.MidiInput("jack", client, "in", callback=Recorder())
    first_out = ports.MidiOutput("jack", client, "out")
    try:
        with pytest.raises(ports.PortError, match="already has a client named"):
            ports.MidiInput("jack", client, "in", callback=Recorder())
        with pytest.raises(ports.PortError, match=f"already has a client named '{client}-out'"):
            ports.MidiOutput("jack", client, "out")
    finally:
        first.close()
        first_out.close()


def test_non_virtual_output_just_connects(server, peer):
    out = ports.MidiOutput("jack", unique("improvd"), "out", virtual=False,
                           connect=[peer.in_name])
    try:
        out.send(mido.Message("control_change", control=123, value=0, channel=4))
        assert peer.wait_for(lambda: peer.messages(), 2)
        assert peer.messages()[0][1] == mido.Message("control_change", control=123, channel=4)
    finally:
        out.close()


def test_an_exact_name_wins_over_longer_names_containing_it():
    available = ["synth:midi_in_2", "synth:midi_in", "other:x"]
    assert ports._find("synth:midi_in", available, "input", "jack") == "synth:midi_in"
    assert ports._find("midi_in_2", available, "input", "jack") == "synth:midi_in_2"
    with pytest.raises(ports.PortError, match="'piano'.*synth:midi_in_2, synth:midi_in, other:x"):
        ports._find("piano", available, "input", "jack")


def test_non_virtual_port_needs_something_to_connect(server):
    with pytest.raises(ports.PortError, match="needs ports to connect to"):
        ports.MidiOutput("jack", unique("improvd"), "out", virtual=False)


def test_garbage_bytes_never_raise_and_good_messages_still_arrive(server, peer):
    rec = Recorder()
    port = ports.MidiInput("jack", unique("improvd"), "in", connect=[peer.out_name], callback=rec)
    try:
        junk = [[0x3C, 0x40], [0x80], [0xF0, 1, 2, 3], [0xF0, 0x7E, 0x7F, 0xF7], [0xF4, 0x01],
                [0xF8], [0xFE], [0x00], [0x90, 0x40], [0xB0, 0x7B]]
        for data in junk:
            peer.send_raw(data)
        peer.send(mido.Message("note_on", note=72, velocity=1))
        peer.send(mido.Message("note_off", note=72, velocity=0))
        time.sleep(0.2)
        msgs = [m for _, m in rec.got]
        # Only well-formed messages come out; fragments may complete each other, never raise.
        assert mido.Message("note_on", note=72, velocity=1) in msgs
        assert msgs[-1] == mido.Message("note_off", note=72, velocity=0)
        assert all(m.type not in ("sysex", "clock", "active_sensing") for m in msgs)
        assert port._errors == 0
    finally:
        port.close()


def test_a_failing_callback_does_not_stop_the_input(server, peer):
    got = []

    def flaky(msg, t):
        got.append(msg)
        if len(got) == 1:
            raise RuntimeError("bug downstream")

    port = ports.MidiInput("jack", unique("improvd"), "in", connect=[peer.out_name],
                           callback=flaky)
    try:
        peer.send(mido.Message("note_on", note=60, velocity=10))
        peer.send(mido.Message("note_on", note=61, velocity=10))
        deadline = time.monotonic() + 2
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert [m.note for m in got] == [60, 61]
        assert port._errors == 1
    finally:
        port.close()


def test_close_flushes_what_was_sent(server, peer):
    out = ports.MidiOutput("jack", unique("improvd"), "out", connect=[peer.in_name])
    for pitch in range(40):
        out.send(mido.Message("note_off", note=pitch))
    out.close()  # right away: the last cycle's messages must still leave
    assert peer.wait_for(lambda: len(peer.messages()) >= 40, 2)
    assert [m.note for _, m in peer.messages()] == list(range(40))


def test_backend_choice_and_listing(server):
    alsa = os.access("/dev/snd/seq", os.R_OK | os.W_OK)
    assert ports.choose_backend() == ("alsa" if alsa else "jack")
    assert ports.choose_backend("jack") == "jack"
    with pytest.raises(ports.PortError, match="unknown MIDI backend 'jak'"):
        ports.choose_backend("jak")
    out = ports.MidiOutput("jack", unique("improvd"), "out")
    try:
        listing = ports.list_ports("jack")
        assert out.name in listing["jack"]["inputs"]  # we receive from other clients' outputs
        assert ports.list_ports()["jack"] == listing["jack"]
    finally:
        out.close()


def test_no_backend_says_what_to_start(server, monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", unique("nobody-home"))
    with pytest.raises(ports.PortError, match="no JACK server named .* answers: start one"):
        ports.choose_backend("jack")
    if not os.access("/dev/snd/seq", os.R_OK | os.W_OK):
        with pytest.raises(ports.PortError, match="jackd -S -d dummy.*run_with_jack"):
            ports.choose_backend()
        with pytest.raises(ports.PortError, match="no MIDI backend is usable"):
            ports.list_ports()


def test_messages_read_together_keep_their_spacing():
    """The input thread may find several messages waiting; rtmidi's deltas restore their times."""
    got = []
    port = ports.MidiInput.__new__(ports.MidiInput)  # no backend: only the delivery step
    port._callback, port._errors, port.name = lambda m, t: got.append((m, t)), 0, "test:in"
    before = time.monotonic()
    port._deliver([([0x90, 60, 100], 0.0), ([0x80, 60, 0], 0.25), ([0x3C], 0.0),
                   ([0x90, 62, 90], 0.5)], mido.Parser())
    after = time.monotonic()
    assert [m for m, _ in got] == [mido.Message("note_on", note=60, velocity=100),
                                   mido.Message("note_off", note=60, velocity=0),
                                   mido.Message("note_on", note=62, velocity=90)]
    times = [t for _, t in got]
    assert before <= times[-1] <= after  # the newest arrived just now
    assert times[1] - times[0] == pytest.approx(0.25) and times[2] - times[1] == pytest.approx(0.5)


@pytest.mark.kept_time  # stamps within ms: judged where JACK kept time
def test_an_idle_input_looks_seldom_but_stamps_on_arrival(server, peer):
    """Past ACTIVE_S without input the thread looks every IDLE_POLL_S; JACK's own deltas still
    place each message at its arrival, not at the look that found it."""
    from improvd.daemon.input_timing import ACTIVE_S, IDLE_POLL_S

    seen = []
    port = ports.MidiInput("jack", unique("improvd"), "in",
                           callback=lambda m, t: seen.append((t, time.monotonic(), m)))
    try:
        with jack.session() as ctl:
            ctl.connect(peer.out_name, port.name)
        peer.send(mido.Message("note_on", note=60, velocity=100))  # the first gives the chain
        time.sleep(ACTIVE_S + 0.2)
        sends, stamps, late_reads = [], [], []
        for k in range(5):
            time.sleep(0.0037 * k)  # land at different points of the idle look's interval
            sent = time.monotonic()
            peer.send(mido.Message("note_off", note=60) if k % 2 == 0 else
                      mido.Message("note_on", note=60, velocity=100))
            deadline = time.monotonic() + 1.0
            while len(seen) < k + 2 and time.monotonic() < deadline:
                time.sleep(0.001)
            sends.append(sent)
            stamps.append(seen[-1][0])
            late_reads.append(seen[-1][1] - sent)
            time.sleep(ACTIVE_S + 0.05)  # idle again
        assert len(seen) == 6
        # Read up to an idle interval late (the slow look is what was exercised) ...
        assert 2 * 0.0014 < max(late_reads) < IDLE_POLL_S + 0.05
        # ... yet the spacing between the notes is the spacing they were sent with, to a JACK
        # period (1.3 ms here) plus a busy machine's wake-up slack: well inside the idle look's
        # interval, which a stamp taken at the look would show; and no note is placed before it
        # was sent.
        spacing = [(b - a) - (sb - sa) for a, b, sa, sb in zip(stamps, stamps[1:], sends, sends[1:])]
        assert all(abs(e) <= 0.005 for e in spacing), spacing
        assert all(0 <= st - s <= 0.008 for st, s in zip(stamps, sends)), (stamps, sends)
    finally:
        port.close()


def _wakeups(comm: str) -> int:
    """Voluntary context switches so far of this process's thread named `comm` (each sleep)."""
    for task in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{task}/comm") as f:
                if f.read().strip() != comm:
                    continue
            with open(f"/proc/self/task/{task}/status") as f:
                line = next(x for x in f if x.startswith("voluntary_ctxt_switches:"))
            return int(line.split()[1])
        except (OSError, StopIteration):
            continue
    raise AssertionError(f"no thread named {comm}")


@pytest.mark.kept_time  # stamps within ms: judged where JACK kept time
def test_an_input_that_never_heard_anything_idles_and_still_stamps_its_first_note(server, peer):
    """rtmidi gives a port's first message no delta, so without one the thread would look every
    millisecond until the player's first note: the port sends itself ports.ANCHOR as it opens,
    which stamps the chain and is not delivered."""
    from improvd.daemon.input_timing import ACTIVE_S, IDLE_POLL_S

    seen = []
    port = ports.MidiInput("jack", unique("improvd"), "in",
                           callback=lambda m, t: seen.append((t, m)))
    try:
        time.sleep(ACTIVE_S + 0.3)  # the anchor came and went; the fast-look window is over
        assert seen == [] and not [p for p in server.ports() if "-anchor:" in p]
        before, started = _wakeups("improvd-midi-in"), time.monotonic()
        time.sleep(1.0)
        looks = (_wakeups("improvd-midi-in") - before) / (time.monotonic() - started)
        assert looks < 2 / IDLE_POLL_S, f"{looks:.0f} looks a second while idle"
        with jack.session() as ctl:
            ctl.connect(peer.out_name, port.name)
        sent = time.monotonic()
        peer.send(mido.Message("note_on", note=60, velocity=100))
        deadline = time.monotonic() + 1.0
        while not seen and time.monotonic() < deadline:
            time.sleep(0.001)
        assert [m for _, m in seen] == [mido.Message("note_on", note=60, velocity=100)]
        assert 0 <= seen[0][0] - sent <= 0.008  # its arrival, not the idle look that found it
    finally:
        port.close()
