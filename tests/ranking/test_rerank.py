"""The learned second stage: it orders the front of the hand-scored candidates."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from app_support import corpus

from qa.ranking import Fusion, Query
from qa.ranking.rerank import FEATURES, Reranker
from qa.ranking.signals import local_coverage_pair, minmax

QUESTION = "What did Ecuador and Israel agree on?"


@pytest.fixture(scope="module")
def retriever(tmp_path_factory):
    retriever = corpus(tmp_path_factory.mktemp("rerank"))[0]
    retriever.fusion = Fusion.learned()
    return retriever


def only(feature: str, weight: float) -> Reranker:
    """A model that reads one feature alone."""
    n = len(FEATURES)
    coef = np.zeros(n)
    coef[FEATURES.index(feature)] = weight
    return Reranker.of(np.zeros(n), np.ones(n), coef, 0.0, f"test: {feature} x {weight}")


def test_the_re_ranker_decides_the_order_of_the_front(retriever):
    def first_number(model):
        retriever.fusion = dataclasses.replace(retriever.fusion, reranker=model)
        return retriever.search(QUESTION, k=3).hits[0].sentence.number

    default = retriever.fusion
    try:
        early, late = first_number(only("position", -1.0)), first_number(only("position", 1.0))
    finally:
        retriever.fusion = default
    assert early == 1 and late > 10  # the lede with one model, a late sentence with the other


def test_hits_are_scored_by_the_models_log_odds_best_first(retriever):
    result = retriever.search(QUESTION, k=5)
    scores = [h.score for h in result.hits]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) > 1


def test_front_features_say_where_each_candidate_sits_in_its_article(retriever):
    fusion, features = retriever.fusion, retriever._features
    query = Query.parse(QUESTION)
    qvec = retriever.embedder.encode([query.text])[0]
    c = fusion.candidates(features, query, qvec, 5)
    front, x = fusion.front(c, 50)
    assert x.shape == (min(50, len(c.rows)), len(FEATURES)) and np.isfinite(x).all()
    col = {name: x[:, i] for i, name in enumerate(FEATURES)}
    rows = c.rows[front]
    starts = features.corpus.doc_rows()[features.corpus.spans[rows, 0]]
    assert np.array_equal(col["first_untyped"] == 1, (rows == starts) & (col["answer_type"] == 0))
    assert not col["prev_same_paragraph"][rows == starts].any()
    assert np.allclose(col["position"], np.log1p(rows - starts))
    assert np.allclose(col["cosine"], features.similarity(qvec, rows), atol=1e-6)
    assert col["hand_rank"][0] == 0 and (np.diff(col["hand_rank"]) > 0).all()
    # The neighbours are the rows before and after, inside the article only.
    ends = features.corpus.doc_rows()[features.corpus.spans[rows, 0] + 1]
    inside = (rows > starts) & (rows + 1 < ends)
    before = local_coverage_pair(features, query, rows - 1)[0]
    after = local_coverage_pair(features, query, np.minimum(rows + 1, ends - 1))[0]
    assert np.allclose(col["prev_local"][inside], before[inside]) and (col["prev_local"][rows == starts] == 0).all()
    assert np.allclose(col["next_local"][inside], after[inside]) and (col["next_local"][rows + 1 == ends] == 0).all()
    has_prev = rows > starts
    prev_cosine = np.where(has_prev, features.similarity(qvec, np.where(has_prev, rows - 1, rows)), 0.0)
    assert np.allclose(col["prev_cosine"], minmax(prev_cosine), atol=1e-6)  # min-max over the front


def test_without_a_re_ranker_the_hand_score_orders_the_hits(retriever):
    hand, features = Fusion(reranker=None), retriever._features
    query = Query.parse(QUESTION)
    c = hand.candidates(features, query, retriever.embedder.encode([query.text])[0], 5)
    expected = c.rows[np.argsort(-hand.score(c), kind="stable")[:3]]
    default = retriever.fusion
    try:
        retriever.fusion = hand
        hits = retriever.search(QUESTION, k=3).hits
    finally:
        retriever.fusion = default
    starts = features.corpus.doc_rows()
    assert [int(starts[0]) + h.sentence.number - 1 for h in hits] == expected.tolist()
