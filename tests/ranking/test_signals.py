"""Signals: registered once, weighted by fields of the same names, each able to change a ranking."""

from __future__ import annotations

import dataclasses

from qa.ranking.signals import SIGNALS
from qa.ranking.weights import Settings, Weights


def test_every_registered_signal_has_a_weight_and_every_weight_a_signal():
    assert set(SIGNALS) == {f.name for f in dataclasses.fields(Weights)}


def test_weights_and_settings_are_frozen_and_documented_numbers():
    for cls in (Weights, Settings):
        assert cls.__dataclass_params__.frozen
        for f in dataclasses.fields(cls):
            assert isinstance(f.default, (int, float)), f.name


def test_a_signal_with_zero_weight_is_not_computed(tmp_path):
    from app_support import corpus

    retriever, _ = corpus(tmp_path)
    called = []
    original = SIGNALS["answer_type"]
    SIGNALS["answer_type"] = dataclasses.replace(original, fn=lambda c: called.append(1) or original.fn(c))
    try:
        retriever.search("When did formal diplomatic relations begin?", k=1)
        assert called
        called.clear()
        retriever.fusion = dataclasses.replace(retriever.fusion, weights=dataclasses.replace(Weights(), answer_type=0.0))
        retriever.search("When did formal diplomatic relations begin?", k=1)
        assert not called
    finally:
        SIGNALS["answer_type"] = original
