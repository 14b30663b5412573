"""input_queue.py: the engine's input queue as a FIFO for one consumer (the bound on a flood is
tested through the engine in test_engine.py): order, timeouts, and a wake-up for every put that
finds the consumer waiting, whatever the interleaving."""

from __future__ import annotations

import queue
import random
import threading
import time

import pytest

from improvd.daemon.input_queue import InputQueue


def test_items_come_out_in_order_and_an_empty_queue_says_so():
    q = InputQueue(limit=8)
    with pytest.raises(queue.Empty):
        q.get_nowait()
    for k in range(5):
        q.put(k)
    assert q.qsize() == 5 and not q.empty()
    assert [q.get(timeout=0) for _ in range(5)] == list(range(5))
    assert q.empty()


def test_get_waits_its_timeout_and_no_longer():
    q = InputQueue(limit=8)
    started = time.monotonic()
    with pytest.raises(queue.Empty):
        q.get(timeout=0.05)
    waited = time.monotonic() - started
    assert 0.05 <= waited < 1.0


def test_a_put_wakes_a_waiting_get_at_once():
    q = InputQueue(limit=8)
    threading.Timer(0.05, q.put, args=("note",)).start()
    started = time.monotonic()
    assert q.get(timeout=5.0) == "note"
    assert time.monotonic() - started < 1.0  # woken by the put, not by the 5 s timeout


def test_no_put_is_lost_between_a_producer_and_the_consumer():
    # Bursts and pauses from the producer against a consumer that waits, wakes and drains:
    # every item arrives, in order, each get well inside its timeout.
    q = InputQueue(limit=1_000_000)
    count, rng = 20_000, random.Random(4)
    pauses = [rng.random() < 0.002 for _ in range(count)]

    def produce():
        for k in range(count):
            q.put(k)
            if pauses[k]:
                time.sleep(0.001)

    producer = threading.Thread(target=produce)
    producer.start()
    got = [q.get(timeout=5.0) for _ in range(count)]
    producer.join()
    assert got == list(range(count))
