"""`improvd evaluate-answers`: how well answers fit their calls, for a model and the baselines.

    improvd evaluate-answers --model models/default.onnx --baselines markov,random,echo \
        --seeds 5 --calls 10 --steering on --out runs/answers

Every call (answer_calls.py) is answered by every system through the daemon's own answer path
(daemon/offline.py: engine, policy, analysis, steering, sampler on a virtual clock), once per
seed, and measured against what the call established (daemon/answer_metrics.py). Systems:
  model   the .onnx model
  markov  Markov-5 fitted on the model's training split (markov_runner.py)
  random  flat logits: random notes, shaped only by the mask and the steering
  echo    replays the call
Writes answers.json (per call, seed and system), summary.md (means per system, and per style)
and rolls/<call>.png (call + each system's answer for the first seed).
"""

from __future__ import annotations

import dataclasses
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path

from improvd.daemon.atomic import write_json_atomic, write_text_atomic

from .answer_calls import HAND_CALLS

log = logging.getLogger(__name__)

BASELINES = ("markov", "random", "echo")
# (key, column title, issue 9's target for the shipped model or "" where it sets none)
COLUMNS = [
    ("key_agreement", "key", ">= 0.90"), ("on_grid", "on grid", ">= 0.80"),
    ("ioi_overlap", "IOI overlap", ">= 0.60"), ("pitch_distance", "pitch dist", "<= 4"),
    ("pitch_class_overlap", "pc overlap", "> baselines"),
    ("interval_overlap", "interval overlap", "> baselines"),
    ("polyphony_ratio", "polyphony", "<= 1.5"), ("velocities_distinct", "velocities", ">= 2"),
    ("velocity_std", "vel std", ""), ("accent_agreement", "accents", "> 0"),
    ("cut_at_end", "cut at end", "<= 0.05"), ("copy_rate", "copy", "<= 0.5"),
    ("handover_s", "handover s", ""), ("phase_error_ms", "phase ms", "<= 5"),
    ("answer_notes", "notes", ""), ("call_on_grid", "call on grid", ""),
]


def steering_off(config):
    """Every steering strength 0: the model's own distribution, only the legality mask."""
    s = config.steering
    zero = {f.name: 0.0 for f in dataclasses.fields(s) if isinstance(getattr(s, f.name), float)}
    return dataclasses.replace(config, steering=dataclasses.replace(s, **zero))


def make_runners(model_path: Path, baselines: Sequence[str], config) -> dict:
    """system -> runner, or a function call -> runner for the ones made per call (echo)."""
    from improvd.daemon.baseline_runners import EchoRunner, UniformRunner
    from improvd.daemon.runner import load_runner

    model = load_runner(model_path, config.model.provider, config.model.threads)
    runners = {"model": model}
    for name in baselines:
        if name == "random":
            runners[name] = UniformRunner(model.tokenizer)
        elif name == "echo":
            runners[name] = lambda call, tok=model.tokenizer: EchoRunner.for_call(call.events, tok)
        elif name == "markov":
            from .markov_runner import MarkovRunner, fit_markov, model_source

            source, limit = model_source(model.info)
            runners[name] = MarkovRunner(fit_markov(source, limit), model.tokenizer)
        else:
            raise ValueError(f"unknown baseline {name!r}; known: {', '.join(BASELINES)}")
    return runners


def evaluate(calls, runners: dict, config, seeds: Sequence[int], out: Path | None = None,
             rolls: bool = True) -> dict:
    """Answer every call with every system and seed; returns the JSON-ready result."""
    from improvd.daemon.analysis import analyze
    from improvd.daemon.answer_metrics import measure
    from improvd.daemon.offline import answer_call

    rows, described = [], []
    for call in calls:
        analysis = analyze(list(call.events))
        described.append(describe_call(call, analysis))
        first: dict = {}
        for system, runner in runners.items():
            runner = runner(call) if callable(runner) else runner
            for seed in seeds:
                started = time.perf_counter()
                answer = answer_call(config, runner, call.events, seed=seed)
                row = {"call": call.name, "style": call.style, "system": system, "seed": seed}
                row.update(measure(answer.call_notes, answer.notes, analysis, answer.end))
                row.update(reaction_s=answer.reaction_s, premature=answer.premature,
                           left_sounding=len(answer.left_sounding),
                           seconds=round(time.perf_counter() - started, 3),
                           answer=[[n.pitch, n.velocity, round(n.start, 4), round(n.end, 4)]
                                   for n in answer.notes])
                rows.append(row)
                first.setdefault(system, (answer.notes, answer.end))
        if rolls and out is not None:
            from .piano_roll import plot_call_and_answers

            title = f"{call.name} ({call.style}): {analysis.describe()}"
            plot_call_and_answers(out / "rolls" / f"{_file_name(call.name)}.png", call.notes,
                                  first, analysis.pulse, title)
        log.info("answered %s", call.name)
    return {"calls": described, "results": rows}


def describe_call(call, analysis) -> dict:
    pulse, key = analysis.pulse, analysis.key
    return {"name": call.name, "style": call.style, "notes": analysis.notes,
            "seconds": round(max(e.time for e in call.events), 3),
            "analysis": analysis.describe(),
            "bpm": round(pulse.bpm, 1) if pulse else None,
            "subdivision": pulse.subdivision if pulse else None,
            "key": key.name if key else None}


def _file_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")


def summary_table(rows: Sequence[dict], group: str = "system") -> str:
    """Markdown: the mean of each measure per system (measures not taken are left out)."""
    from improvd.daemon.answer_metrics import mean_of

    keys = sorted({(r["style"], r["system"]) if group == "style" else r["system"] for r in rows},
                  key=str)
    head = ["style", "system"] if group == "style" else ["system"]
    lines = ["| " + " | ".join(head + [c[1] for c in COLUMNS] + ["answers"]) + " |",
             "|" + "---|" * (len(head) + len(COLUMNS) + 1)]
    if group == "system":
        lines.append("| target | " + " | ".join(c[2] for c in COLUMNS) + " | |")
    for k in keys:
        mine = [r for r in rows if ((r["style"], r["system"]) if group == "style"
                                    else r["system"]) == k]
        cells = [_fmt(mean_of([r[c[0]] for r in mine])) for c in COLUMNS]
        label = list(k) if group == "style" else [k]
        lines.append("| " + " | ".join(label + cells + [str(len(mine))]) + " |")
    return "\n".join(lines)


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"


def write_outputs(result: dict, out: Path, settings: dict) -> None:
    result = {"settings": settings, **result}
    write_json_atomic(out / "answers.json", result, indent=1)
    rows = result["results"]
    text = [f"# Answers to {len(result['calls'])} calls", "",
            "Settings: " + ", ".join(f"{k} {v}" for k, v in settings.items()), "",
            ("Means over calls and seeds (a measure that does not apply to a call, e.g. on-grid "
             "for a call without a pulse, is left out of its mean)."), "",
            summary_table(rows), "", "## Per style", "", summary_table(rows, "style"), "",
            "## Piano rolls (first seed)", ""]
    if (out / "rolls").is_dir():
        text += [f"![{c['name']}](rolls/{_file_name(c['name'])}.png)" for c in result["calls"]]
    write_text_atomic(out / "summary.md", "\n".join(text))


def run(args) -> int:
    from improvd.daemon import config as daemon_config

    from .answer_calls import collect

    config = daemon_config.load(args.config)
    if args.steering == "off":
        config = steering_off(config)
    model = Path(args.model or config.model.path)
    baselines = [b for b in args.baselines.split(",") if b]
    seeds = list(range(args.seeds))
    calls = collect(args.styles.split(","), args.calls, args.call_seconds, args.corpus_limit,
                    args.hand_calls)
    runners = make_runners(model, baselines, config)
    out = Path(args.out)
    result = evaluate(calls, runners, config, seeds, out, rolls=not args.no_rolls)
    settings = {"model": str(model), "baselines": ",".join(baselines), "seeds": args.seeds,
                "steering": args.steering, "styles": args.styles, "calls": len(calls)}
    write_outputs(result, out, settings)
    print(summary_table(result["results"]))
    print(f"wrote {out / 'answers.json'}, {out / 'summary.md'} and {len(calls)} piano rolls")
    return 0


def register(sub) -> None:
    p = sub.add_parser("evaluate-answers", help="measure answers to calls, model vs baselines",
                       description="Answer hand-written calls and openings of held-out pieces "
                       "through the daemon's answer path; measure each answer against its call.")
    p.add_argument("--model", type=Path, help="the .onnx model (default: the config's)")
    p.add_argument("--config", type=Path, help="daemon config.toml (default: built-in settings)")
    p.add_argument("--baselines", default=",".join(BASELINES),
                   help="comma-separated: markov, random, echo (empty: none)")
    p.add_argument("--seeds", type=int, default=5, help="answers per call and system")
    p.add_argument("--calls", type=int, default=10, help="at most this many calls per style")
    p.add_argument("--styles", default="hand,bach,folk,piano",
                   help="comma-separated call styles: hand, bach, folk, piano")
    p.add_argument("--hand-calls", type=Path, default=HAND_CALLS,
                   help="folder of the hand-written calls (*.mid; default tests/data/calls)")
    p.add_argument("--call-seconds", type=float, default=6.0, help="length of a piece's opening")
    p.add_argument("--corpus-limit", type=int, default=120,
                   help="input files parsed per folk/piano collection (Bach is read whole)")
    p.add_argument("--steering", choices=("on", "off"), default="on",
                   help="off: every steering strength 0")
    p.add_argument("--no-rolls", action="store_true", help="skip the piano-roll PNGs")
    p.add_argument("--out", type=Path, required=True, help="folder for the JSON, table and PNGs")
    p.set_defaults(handler=_handle)


def _handle(args) -> int:
    from improvd.daemon.artifact import ModelFileError
    from improvd.daemon.config import ConfigError
    from improvd.daemon.errors import CommandError

    if args.seeds < 1 or args.calls < 1:
        raise CommandError("--seeds and --calls must be at least 1")
    try:
        return run(args)
    except (ModelFileError, ConfigError, ValueError, FileNotFoundError) as exc:
        raise CommandError(str(exc)) from exc
