"""`improvd plot FILE.mid`: a piano roll PNG of a recorded session (or of any file improvd wrote:
`run --record`, `demo`, `generate`), the call's notes and the answer's in two colours.

The file's tracks named "call" and "answer" are the two parts (the names improvd writes);
piano_roll.py draws them. matplotlib is loaded only here, never by the daemon.
"""

from __future__ import annotations

import logging
from pathlib import Path

from improvd.daemon.errors import CommandError
from improvd.daemon.events import events_to_notes
from improvd.daemon.midi_events import read_midi_tracks

log = logging.getLogger(__name__)

MATPLOTLIB_HINT = ("piano rolls are drawn with matplotlib: pip install 'improvd[plot]' "
                   "(or `make venv-full`)")


def require_matplotlib() -> None:
    """CommandError naming the install when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CommandError(MATPLOTLIB_HINT) from None


def plot_session(midi_path: Path, png_path: Path, *, beats: bool = False,
                 title: str | None = None) -> dict:
    """-> {"call": notes, "answer": notes, "path": png} drawn; CommandError naming what is
    wrong. beats: grey lines on the call's beats carried through the answer (for one call: a
    session's calls each have a tempo of their own)."""
    from .piano_roll import plot_call_and_answers

    midi_path = Path(midi_path)
    try:
        tracks = read_midi_tracks(midi_path)
    except (OSError, EOFError, ValueError, KeyError) as exc:
        raise CommandError(f"{midi_path}: not a readable MIDI file ({exc})") from None
    if "call" not in tracks or "answer" not in tracks:
        names = ", ".join(repr(name) for name in tracks) or "none"
        raise CommandError(f"{midi_path}: no 'call' and 'answer' tracks (it has {names}); "
                           "plot draws files written by improvd run --record, demo or generate")
    call, answer = events_to_notes(tracks["call"]), events_to_notes(tracks["answer"])
    if not call and not answer:
        raise CommandError(f"{midi_path}: no notes to draw")
    pulse = None
    if beats and call:
        from improvd.daemon.analysis import analyze

        pulse = analyze(tracks["call"]).pulse
    title = title or f"{midi_path.name}: {len(call)} notes played, {len(answer)} answered"
    path = plot_call_and_answers(png_path, call, {"improvd": (answer, None)}, pulse=pulse,
                                 title=title)
    return {"call": call, "answer": answer, "path": path}


def _handle(args) -> int:
    require_matplotlib()
    out = Path(args.out) if args.out else Path(args.file).with_suffix(".png")
    drawn = plot_session(Path(args.file), out)
    print(f"wrote {out}: {len(drawn['call'])} call notes (blue), {len(drawn['answer'])} answer "
          "notes (orange)")
    return 0


def register(sub) -> None:
    p = sub.add_parser("plot", help="draw a recorded session as a piano roll PNG",
                       description="Draw a MIDI file written by improvd (run --record, demo, "
                                   "generate) as a piano roll: call in blue, answer in orange.")
    p.add_argument("file", help="the .mid file")
    p.add_argument("--out", help="the PNG to write (default: FILE with .png)")
    p.set_defaults(handler=_handle)
