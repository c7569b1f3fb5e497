"""Weights and settings of the ranking: every tunable number, declared once, with its measurement.

``Weights`` has one field per registered signal (``qa.ranking.signals.SIGNALS``; a test
checks the two are the same set). ``Settings`` holds the other numbers of a search: how
deep candidates go, the phrase shortlist, the ``found`` threshold. Defaults are the
measured best on SQuAD (bench/RESULTS.md, "Retrieval quality"): coordinate ascent on cached
features, checked by two-fold cross-validation over documents (moved MRR by <= 0.004).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Weights:
    """How much each signal counts in a candidate's hybrid score (signals in ``qa.ranking.signals``)."""

    dense: float = 0.5                     # cosine with the question (min-max over candidates)
    bm25: float = 0.1                      # the sentence's BM25 score (min-max)
    paragraph_dense: float = 0.3           # the paragraph's mean cosine (min-max)
    document_bm25: float = 0.3             # the whole article's BM25: which article is it about? (min-max)
    local_coverage: float = 0.5            # share of the question's words in the sentence, article-local IDF
    local_paragraph_coverage: float = 0.5  # the same over the sentence's paragraph
    question_sentence: float = -0.5        # the sentence is itself a question (SQuAD neutral; seeds among BBC)
    answer_type: float = 0.3               # it holds what the question asks for (a date for "when" ...)
    phrase: float = 0.1                    # share of the question's word pairs it repeats (front of the list only)


@dataclass(frozen=True)
class Settings:
    """The numbers of a search other than the signal weights."""

    # Candidates: the top ``depth`` of each retriever (dense and BM25), at least
    # ``depth_per_hit`` per hit asked for. 50 and 200 gave MRR 0.809/0.808 vs 0.808 (no difference).
    depth: int = 100
    depth_per_hit: int = 4
    # The phrase signal tokenizes candidates (the costly part); a bonus of at most
    # ``Weights.phrase`` only reorders the front of the list, so only this many are tokenized.
    phrase_shortlist: int = 30
    # Word pairs counted per sentence, at most: a long quote repeating the question gains no more.
    phrase_pairs: int = 3
    # ``found`` when the best sentence's cosine plus ``evidence_coverage`` times its corpus-IDF
    # word share reaches ``threshold``; set on the SQuAD half split (false abstentions ~4%).
    threshold: float = 0.635
    evidence_coverage: float = 0.5
    # In bm25 mode there is no cosine: found rests on the word share alone.
    bm25_threshold: float = 0.5
    # The learned re-ranker (qa.ranking.rerank, opt-in) orders this many of the hand score's
    # best candidates (at least k); it was fitted on the top 50, which hold the answer for
    # 0.983 of squad-dev-a's questions and 0.961 of the news questions (bench/fit_rerank.py).
    rerank_depth: int = 50
    # Neighbouring sentences of the same paragraph shown as a hit's context, each side.
    context_window: int = 1
