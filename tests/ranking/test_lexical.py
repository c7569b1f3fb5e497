"""Lexical: BM25 built from token ids gives the scores bm25s gives from token strings, bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
from app_support import SEEDS

from qa.ranking.lexical import B, K1, Lexical, tokenize
from qa.documents.loading import load_directory
from qa.documents.sentences import split_document

QUESTIONS = ["Who is the president of Ecuador?", "When did formal diplomatic relations begin?",
             "security security alliance Israel Israel Jerusalem", "the of and", "", "zzzz unknownword",
             "How many hostages were taken, and who welcomed Noboa?"]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    docs = load_directory(SEEDS).documents
    sentences = [d.text[s.start:s.end] for d in docs for s in split_document(d)]
    # Sentences without a single token, and repeated words (term frequencies above one).
    return sentences + ["", "The of and.", "alliance alliance alliance security", *[d.text for d in docs]]


def reference(texts: list[str]):
    import bm25s

    ref = bm25s.BM25(k1=K1, b=B, method="lucene")
    ref.index([tokenize(t) for t in texts], show_progress=False)
    return ref


def test_scores_from_token_ids_equal_bm25s_scores_from_token_strings(texts):
    lexical, ref = Lexical(texts), reference(texts)
    for question in QUESTIONS:
        ids = ref.get_tokens_ids(tokenize(question))
        want = np.asarray(ref.get_scores_from_ids(ids), np.float32) if ids else np.zeros(len(texts), np.float32)
        got = lexical.scores(lexical.ids(tokenize(question)))
        assert got.dtype == np.float32 and np.array_equal(got, want), question


def test_each_token_lists_the_rows_holding_it_in_order(texts):
    lexical, ref = Lexical(texts), reference(texts)
    assert set(lexical.vocab) == set(ref.vocab_dict)  # the corpus's words, and bm25s's empty token
    for token, i in lexical.vocab.items():
        if not token:
            continue  # the empty token bm25s adds; no query ever holds it
        rows = lexical.rows_with(i)
        assert np.all(np.diff(rows) > 0)
        assert set(rows.tolist()) == {r for r, t in enumerate(texts) if token in tokenize(t)}


def test_ids_keep_known_tokens_in_order_with_repeats(texts):
    lexical = Lexical(texts)
    ids = lexical.ids(tokenize("alliance Alliance alliances zzzz unknownword"))
    assert ids == [lexical.vocab["allianc"]] * 3
    assert lexical.ids(tokenize("the of")) == []


def test_empty_corpus_and_corpus_without_words_score_zero():
    for texts in ([], ["", "the of and", "a"]):
        lexical = Lexical(texts)
        assert lexical.ids(["allianc"]) == []
        assert np.array_equal(lexical.scores(lexical.ids(["allianc"])), np.zeros(len(texts), np.float32))
