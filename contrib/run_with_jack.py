"""Run a command with MIDI ports available, starting a private JACK server only when needed.

    python contrib/run_with_jack.py improvd run [ARGS...]

If the ALSA sequencer is usable or a JACK server already answers, the command simply replaces this
process. Otherwise (a machine with no sound card) a JACK server with the dummy driver is started
under the name "improvd-jack" (or $IMPROVD_JACK_NAME), the command runs with JACK_DEFAULT_SERVER
pointing at it, SIGINT/SIGTERM/SIGHUP are passed on to the command, and when the command exits the
server this script started, and only that one, is stopped. The exit status is the command's.

Standard library only, so it runs before any virtual environment exists.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ALSA_SEQ_DEVICE = "/dev/snd/seq"
STARTUP_TIMEOUT_S = 10.0


_LIBC = ctypes.CDLL(None) if sys.platform.startswith("linux") else None


def die_with_us() -> None:
    """In a child before exec (Linux): SIGTERM when this script dies, even by SIGKILL, so neither
    the server nor the command outlives it. (libc is loaded beforehand: no imports in a fork.)"""
    if _LIBC is not None:
        _LIBC.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def alsa_usable() -> bool:
    return os.access(ALSA_SEQ_DEVICE, os.R_OK | os.W_OK)


def jack_answers(env: dict) -> bool:
    """True when the JACK server named in env answers (jack_lsp fails fast when none runs)."""
    if not shutil.which("jack_lsp"):
        return False
    probe = subprocess.run(["jack_lsp"], env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=10, check=False)
    return probe.returncode == 0


def start_server(name: str, env: dict) -> subprocess.Popen:
    """Start `jackd -d dummy` under `name` and wait until it answers."""
    if not shutil.which("jackd"):
        sys.exit("run_with_jack: no ALSA sequencer and no jackd: install JACK "
                 "(Debian/Ubuntu: apt-get install jackd2) or load snd-seq")
    # Realtime mode (jackd's default) keeps MIDI on time on a busy machine; without the privilege
    # jackd runs without it. -s: no per-xrun lines in a log that lives as long as the daemon.
    # Dummy driver: 64-frame periods at 48 kHz are 1.3 ms, MIDI's timing grain.
    cmd = ["jackd", "-s", "-n", name, "-d", "dummy", "-r", "48000", "-p", "64"]
    # jackd logs for as long as it runs: a file, not a pipe nobody drains. Its own process group,
    # so a Ctrl-C in the terminal reaches the command (through us) and not the server under it.
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - lives as long as the server
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, process_group=0,
                              preexec_fn=die_with_us)  # noqa: PLW1509 - no threads here
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            log.seek(0)
            sys.exit(f"run_with_jack: jackd exited with status {server.returncode}:\n"
                     f"{log.read().strip()}")
        if jack_answers(env):
            return server
        time.sleep(0.1)
    stop_server(server)
    sys.exit(f"run_with_jack: jackd -n {name} did not answer within {STARTUP_TIMEOUT_S:.0f} s")


def stop_server(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def main(argv: list[str]) -> int:
    if not argv:
        sys.exit(__doc__)
    env = dict(os.environ)
    if alsa_usable() or jack_answers(env):
        os.execvp(argv[0], argv)

    # Not "improvd": libjack refuses a client named like the server it joins (status 0x11), and
    # the daemon's default client name is "improvd".
    name = os.environ.get("IMPROVD_JACK_NAME", "improvd-jack")
    env["JACK_DEFAULT_SERVER"] = name
    if jack_answers(env):  # a server of that name is already up (an earlier run): share it
        print(f"run_with_jack: using the running JACK server {name!r}", flush=True)
        os.execvpe(argv[0], argv, env)

    server = start_server(name, env)
    print(f"run_with_jack: started JACK server {name!r} (dummy driver); other MIDI clients reach "
          f"the ports with JACK_DEFAULT_SERVER={name}, e.g. `JACK_DEFAULT_SERVER={name} jack_lsp`",
          flush=True)
    # Its own process group too: a terminal's Ctrl-C reaches it once, forwarded from here.
    child = subprocess.Popen(argv, env=env, process_group=0,
                             preexec_fn=die_with_us)  # noqa: PLW1509 - no threads here

    def forward(signum, _frame):
        child.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        status = child.wait()
    finally:
        stop_server(server)
    # A child killed by a signal reports -N; the shell convention is 128+N.
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
