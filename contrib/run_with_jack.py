"""Run a command with MIDI ports available, starting a private JACK server only when needed.

    python contrib/run_with_jack.py improvd run [ARGS...]

If the ALSA sequencer is usable or a JACK server already answers, the command simply replaces this
process. Otherwise (a machine with no sound card) a JACK server with the dummy driver is started
under the name "improvd-jack" (or $IMPROVD_JACK_NAME), the command runs with JACK_DEFAULT_SERVER
pointing at it, SIGINT/SIGTERM/SIGHUP are passed on to the command, and when the command exits the
server this script started, and only that one, is stopped. The exit status is the command's.

It needs the runtime installed (`make venv-runtime`) for the one jackd launcher,
improvd.daemon.jackd, which the tests and benchmarks use too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from improvd.daemon.jackd import JackError, JackServer, die_with_parent, jack_answers

ALSA_SEQ_DEVICE = "/dev/snd/seq"
STARTUP_TIMEOUT_S = 10.0


def alsa_usable() -> bool:
    return os.access(ALSA_SEQ_DEVICE, os.R_OK | os.W_OK)


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

    try:
        server = JackServer(name, softmode=True, timeout_s=STARTUP_TIMEOUT_S)
    except JackError as exc:
        sys.exit(f"run_with_jack: {exc}")
    print(f"run_with_jack: started JACK server {name!r} (dummy driver); other MIDI clients reach "
          f"the ports with JACK_DEFAULT_SERVER={name}, e.g. `JACK_DEFAULT_SERVER={name} jack_lsp`",
          flush=True)
    # Its own process group too: a terminal's Ctrl-C reaches it once, forwarded from here.
    child = subprocess.Popen(argv, env=env, process_group=0,
                             preexec_fn=die_with_parent)  # noqa: PLW1509 - no threads here

    def forward(signum, _frame):
        child.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        status = child.wait()
    finally:
        server.stop(timeout_s=5)
    # A child killed by a signal reports -N; the shell convention is 128+N.
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
