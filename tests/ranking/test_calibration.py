"""Calibration (the learned ranking, ``Fusion.learned()``): confidence is the probability that
the first quote answers, and found is it reaching the model's threshold."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from app_support import corpus

from qa.ranking import Fusion, Query, calibration
from qa.ranking.calibration import Calibrator

QUESTIONS = ("Who is the president of Ecuador?", "When did formal diplomatic relations begin?",
             "What is the capital of Australia?", "Who won the 2022 FIFA World Cup?", "What did Herzog call Noboa?")


@pytest.fixture(scope="module")
def retriever(tmp_path_factory):
    retriever = corpus(tmp_path_factory.mktemp("calibration"))[0]
    retriever.fusion = Fusion.learned()
    return retriever


def test_confidence_is_a_probability_and_found_is_it_reaching_the_threshold(retriever):
    threshold = retriever.fusion.threshold()
    assert threshold == Calibrator.packaged().threshold
    for question in QUESTIONS:
        result = retriever.search(question, k=3)
        assert 0.0 <= result.confidence <= 1.0
        assert result.found == (result.confidence >= threshold), question


def test_the_calibrator_reads_the_best_candidate_and_the_terms_its_article_lacks(retriever):
    fusion, features = retriever.fusion, retriever._features
    query = Query.parse("When did Noboa visit Lima?")
    qvec = retriever.embedder.encode([query.text])[0]
    ranked = fusion.rank(features, query, qvec, 3, "hybrid")
    x = dict(zip(calibration.FEATURES, ranked.evidence))
    best = ranked.rows[0][0]
    assert x["cosine"] == pytest.approx(float(features.similarity(qvec, np.array([best]))[0]), abs=1e-6)
    assert (x["absent"], x["terms"], x["typed"]) == (1.0, 2.0, 1.0)  # "lima" of "noboa", "lima"; a time is asked for
    assert x["cosine_margin"] <= x["cosine"]
    assert ranked.confidence == pytest.approx(float(fusion.calibrator.probability(ranked.evidence[None])[0]))


def test_a_missing_name_lowers_the_confidence(retriever):
    present = retriever.search("Who is the president of Ecuador?", k=1)
    absent = retriever.search("Who is the president of Peru?", k=1)
    assert absent.confidence < present.confidence


def test_without_a_calibrator_found_is_the_evidence_rule(retriever):
    default = retriever.fusion
    try:
        retriever.fusion = dataclasses.replace(default, calibrator=None)
        features, fusion = retriever._features, retriever.fusion
        query = Query.parse(QUESTIONS[0])
        qvec = retriever.embedder.encode([query.text])[0]
        ranked = fusion.rank(features, query, qvec, 1, "hybrid")
        assert ranked.confidence == pytest.approx(fusion.evidence(features, query, qvec, ranked.rows[0][0]))
        assert fusion.threshold() == fusion.settings.threshold and fusion.sure() is None
    finally:
        retriever.fusion = default


def test_the_learned_ranking_comes_with_the_calibrator_fitted_over_it():
    learned, default = Fusion.learned(), Fusion()
    assert learned.reranker is not None and "re-ranker" in learned.calibrator.fitted_on
    assert learned.sure() == max(calibration.SURE_PROBABILITY, learned.threshold())
    # The default keeps the hand weights and the evidence rule.
    assert default.reranker is None and default.calibrator is None
    assert default.threshold() == default.settings.threshold and default.sure() is None
