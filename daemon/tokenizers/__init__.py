"""Tokenizers: one module per representation. Training imports them too, so an exported model's
tokenizer spec rebuilds exactly the same tokenizer in the daemon.

Every tokenizer offers:
  vocab_size; encode(events) -> ids; decode(ids) -> events; spec() -> dict (JSON-able);
  encoder() -> object with push(event) -> list[int]   (live input, one event at a time)
  decoder() -> object with push(id) -> list[Event]    (live output, one token at a time)
  time_shifts: True when tokens carry time shifts (performance); False when each token lasts one
               step of step_s seconds (the timing-free tokenizers)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .abc_chars import AbcCharsTokenizer
from .beat_performance import BeatPerformanceTokenizer
from .chorale_arpeggio import ChoraleArpeggioTokenizer
from .note_chord import NoteChordTokenizer
from .performance import PerformanceTokenizer

# name -> constructor taking the spec dict: every tokenizer this build can rebuild from a model.
_FACTORIES: dict[str, Callable[[dict[str, Any]], Any]] = {
    PerformanceTokenizer.name: PerformanceTokenizer.from_spec,
    BeatPerformanceTokenizer.name: BeatPerformanceTokenizer.from_spec,
    AbcCharsTokenizer.name: AbcCharsTokenizer.from_spec,
    ChoraleArpeggioTokenizer.name: ChoraleArpeggioTokenizer.from_spec,
    NoteChordTokenizer.name: NoteChordTokenizer.from_spec,
}


class UnknownTokenizerError(ValueError):
    pass


def known() -> list[str]:
    return sorted(_FACTORIES)


def factory_for(spec: dict[str, Any]) -> Callable[[dict[str, Any]], Any]:
    """The constructor for a spec stored in a model's metadata; UnknownTokenizerError if none."""
    if not isinstance(spec, dict) or "name" not in spec:
        raise UnknownTokenizerError(f"tokenizer spec has no 'name': {spec!r}")
    factory = _FACTORIES.get(spec["name"])
    if factory is None:
        raise UnknownTokenizerError(
            f"unknown tokenizer {spec['name']!r}; this build knows {', '.join(known())}"
        )
    return factory


def from_spec(spec: dict[str, Any]):
    """Rebuild a tokenizer from the spec stored in a model's metadata."""
    return factory_for(spec)(spec)
