"""BM25 over a few rows with the whole corpus's statistics (qa.store.terms) is the local
store's BM25 (qa.ranking.lexical, bm25s) to the bit: what lets a remote store rank a
question on its neighbourhood alone."""

from __future__ import annotations

import collections

import numpy as np
from store_support import article

from qa.documents.loading import parse_text
from qa.documents.sentences import split_document
from qa.documents.tokens import tokenize
from qa.ranking.lexical import Lexical
from qa.store.terms import Statistics, Tally, TermIndex, article_tokens, postings

QUESTIONS = ["What about the glaciers and the copper tariff?", "Is the election about the harbour harbour?",
             "Sentence three of article seven", "nothing matches this", "the of and"]


def corpus():
    docs = [article(i)[0] for i in range(25)]
    docs.append(parse_text("A Long Title About Copper\n\n" + "Copper copper copper rose. " * 3 + "Tariffs fell.", "long.txt"))
    return docs, [split_document(d) for d in docs]


def test_sentence_bm25_and_idf_over_some_rows_equal_the_whole_corpus():
    docs, spans = corpus()
    texts = [d.text[s.start:s.end] for d, ss in zip(docs, spans) for s in ss]
    lexical, tokens = Lexical(texts), [tokenize(t) for t in texts]
    df = collections.Counter(w for ts in tokens for w in set(ts))
    some = np.arange(0, len(texts), 3)  # a view: every third sentence
    for question in QUESTIONS:
        words = tokenize(question)
        stats = Statistics(len(texts), sum(map(len, tokens)), {w: df[w] for w in words})
        lists, lengths = postings([tokens[r] for r in some], words)
        index = TermIndex(len(some), lists, lengths, stats)
        want = lexical.scores(lexical.ids(words))[some]
        assert np.array_equal(index.scores(index.ids(words)), want), question  # bit for bit
        assert len(index.ids(words)) == len(lexical.ids(words))
        for w in set(words) & set(lexical.vocab):
            assert index.idf(index.vocab[w]) == lexical.idf(lexical.vocab[w])
            np.testing.assert_array_equal(some[index.rows_with(index.vocab[w])],
                                          np.intersect1d(lexical.rows_with(lexical.vocab[w]), some))


def test_article_bm25_from_sentence_tokens_and_the_rest_equals_bm25_over_whole_texts():
    docs, spans = corpus()
    lexical = Lexical([d.text for d in docs])
    parts = [article_tokens(d, ss) for d, ss in zip(docs, spans)]
    tally = Tally()
    for d, ss in zip(docs, spans):
        tally.add(d, ss)
    assert tally.article_tokens == sum(n for _, _, n in parts) and tally.articles == len(docs)
    for question in QUESTIONS:
        words = tokenize(question)
        stats = Statistics(tally.articles, tally.article_tokens, {w: tally.article_df[w] for w in words})
        whole = [[t for ts in sentences for t in ts] + rest for sentences, rest, _ in parts]
        assert [len(w) for w in whole] == [n for _, _, n in parts]
        lists, lengths = postings(whole, words)
        index = TermIndex(len(docs), lists, lengths, stats)
        assert np.array_equal(index.scores(index.ids(words)), lexical.scores(lexical.ids(words))), question
