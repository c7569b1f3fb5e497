"""Micro-batching: concurrent questions share encode calls, each gets its own vectors back."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from qa.retrieval.batching import MicroBatcher


def slow_encoder(calls: list[int], delay: float = 0.05):
    def encode(texts):
        calls.append(len(texts))
        time.sleep(delay)
        return np.array([[float(t)] for t in texts], np.float32)
    return encode


def test_a_lone_question_is_encoded_at_once():
    calls: list[int] = []
    b = MicroBatcher(slow_encoder(calls, 0))
    assert b.encode(["7"]).tolist() == [[7.0]] and calls == [1]


def test_questions_arriving_together_share_encode_calls_and_each_gets_its_own():
    calls: list[int] = []
    b = MicroBatcher(slow_encoder(calls))
    out: dict[int, list] = {}

    def ask(i):
        out[i] = b.encode([str(i), str(i + 1000)]).ravel().tolist()

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert out == {i: [float(i), float(i + 1000)] for i in range(20)}
    assert sum(calls) == 40 and len(calls) < 20  # fewer encodes than questions


def test_an_encoder_error_reaches_every_waiter_and_the_next_call_works():
    state = {"fail": True}

    def encode(texts):
        if state["fail"]:
            raise RuntimeError("model broke")
        return np.zeros((len(texts), 1), np.float32)

    b = MicroBatcher(encode)
    with pytest.raises(RuntimeError, match="model broke"):
        b.encode(["a"])
    state["fail"] = False
    assert b.encode(["a", "b"]).shape == (2, 1)
