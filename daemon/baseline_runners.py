"""Baseline "models" for judging answers: runners with the ONNX runners' interface (tokenizer,
vocab_size, advance(token) -> logits, logits, reset()) over the performance tokenizer, so they
answer through the same engine, steering and sampler as a trained model.

  UniformRunner  flat logits: every legal token alike. What comes out is random notes; once
                 steering applies, random notes in the call's key, range and tempo.
  EchoRunner     puts its mass on replaying the call: after it has heard as many tokens as the
                 call has, it predicts the call's tokens again from the first, one per step.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from .events import Event
from .runner import Runner
from .tokenizers.performance import PerformanceTokenizer

log = logging.getLogger(__name__)

ECHO_LOGIT = 30.0  # e^30 against a few hundred other tokens at 0: the echo is all but certain


class UniformRunner(Runner):
    """Random notes: a new note, the end of a sounding one, or a wait about equally likely; the
    pitch and the wait uniform. (Flat logits over all tokens wait 100 times out of 130 and
    play a note or two per answer: no fair baseline.) Whatever else shapes the answer is the
    mask and the steering, as for a model."""

    def __init__(self, tokenizer=None):
        super().__init__(tokenizer or PerformanceTokenizer())

    def reset(self) -> None:
        super().reset()
        tok = self.tokenizer
        # Each kind about as likely as the waits together: the dozen notes the steering leaves
        # near the call, the usually single legal note-off. Top-p then keeps all three kinds
        # (tokens much rarer than a wait would all fall outside its nucleus).
        waits = tok.max_shift_steps
        self.logits[tok.note_on_offset:tok.note_on_offset + 128] = np.log(waits / 12)
        self.logits[tok.note_off_offset:tok.note_off_offset + 128] = np.log(waits)
        self.logits[tok.velocity_offset:tok.velocity_offset + tok.velocity_bins] = -20.0

    def advance(self, token: int) -> np.ndarray:
        self.steps += 1
        return self.logits


class EchoRunner(Runner):
    """Replays the call's own token stream as the answer.

    The engine tokenizes the call as it hears it, with the tokenizer's streaming encoder from the
    call's first event; `call_tokens` is the same stream (tokenizer.encode of the call), so once
    that many tokens have been fed the call is over and every later step predicts the next call
    token. Where the engine forbids that token (a note-off the engine already closed), the sampler
    takes another and the echo goes on with the call's next token, so it stays in time.
    """

    def __init__(self, call_tokens: Sequence[int], tokenizer=None):
        if not call_tokens:
            raise ValueError("an echo needs a call to repeat")
        self.call_tokens = [int(t) for t in call_tokens]
        super().__init__(tokenizer or PerformanceTokenizer())

    @classmethod
    def for_call(cls, call_events: Sequence[Event], tokenizer=None) -> EchoRunner:
        tokenizer = tokenizer or PerformanceTokenizer()
        return cls(tokenizer.encode(list(call_events)), tokenizer)

    def advance(self, token: int) -> np.ndarray:
        self.steps += 1
        heard = len(self.call_tokens)
        self.logits = np.zeros(self.vocab_size, dtype=np.float32)
        if self.steps >= heard:  # the next token is the echo's (steps - heard)-th
            self.logits[self.call_tokens[(self.steps - heard) % heard]] = ECHO_LOGIT
        return self.logits
