"""Fusion: rank sentences by dense and BM25 evidence, and decide whether the corpus answers.

A ``Snapshot`` is one immutable generation of the index with the structures search needs
(BM25, paragraph groups, duplicate groups), built lazily. ``Fusion`` holds the ranking
recipe; its defaults are the measured best (bench/RESULTS.md, "Retrieval quality").
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

from .answertype import AnswerTypes
from .forms import SentenceForms
from .index import Store, hash_texts
from .lexical import Lexical, tokenize
from .sentences import Sentence


class Snapshot:
    """An immutable index generation plus lazily built search structures."""

    def __init__(self, store: Store, previous: "Snapshot | None" = None):
        self.store = store
        self._lock = threading.Lock()
        # Word pairs of sentences met as candidates: repeated questions on one corpus meet the
        # same sentences again, and tokenizing is the costly part of the phrase signal.
        self.word_pairs = functools.lru_cache(maxsize=65_536)(self._word_pairs)
        # A save only renumbers the generation: reuse what the previous snapshot built.
        same = previous is not None and previous.store.spans is store.spans
        self._lexical = previous._lexical if same else None
        self._groups = previous._groups if same else None
        self._paragraphs = previous._paragraphs if same else None
        self._answer_types = previous._answer_types if same else None
        self._forms = previous._forms if same else None
        self._document_lexical = previous._document_lexical if same else None

    @classmethod
    def empty(cls, model: str, dimension: int = 0) -> "Snapshot":
        return cls(Store(model, dimension))

    def _word_pairs(self, row: int) -> frozenset[tuple[str, str]]:
        tokens = tokenize(self.text(row))
        return frozenset(zip(tokens, tokens[1:]))

    def text(self, row: int) -> str:
        return self.store.sentence_text(row)

    def texts(self) -> list[str]:
        return self.store.texts()

    def _once(self, name: str, build):
        """The structure cached as ``name``, built by ``build()`` at most once across threads."""
        value = getattr(self, name)
        if value is None:
            with self._lock:
                value = getattr(self, name)
                if value is None:
                    value = build()
                    setattr(self, name, value)
        return value

    @property
    def lexical(self) -> Lexical:
        return self._once("_lexical", lambda: Lexical(self.texts()))

    @property
    def document_lexical(self) -> Lexical:
        """BM25 over whole articles: which article is the question about?"""
        return self._once("_document_lexical", lambda: Lexical([d.text for d in self.store.documents]))

    @property
    def answer_types(self) -> AnswerTypes:
        return self._once("_answer_types", lambda: AnswerTypes(self.texts()))

    @property
    def forms(self) -> SentenceForms:
        return self._once("_forms", lambda: SentenceForms(self.texts()))

    @property
    def paragraphs(self) -> tuple[np.ndarray, np.ndarray]:
        """For each row, the first and one-past-last row of its paragraph."""
        return self._once("_paragraphs", self._build_paragraphs)

    def _build_paragraphs(self) -> tuple[np.ndarray, np.ndarray]:
        spans = self.store.spans
        n = len(spans)
        key_change = np.ones(n, dtype=bool)
        if n > 1:
            key_change[1:] = (spans[1:, 0] != spans[:-1, 0]) | (spans[1:, 3] != spans[:-1, 3])
        starts_idx = np.flatnonzero(key_change)
        group = np.cumsum(key_change) - 1
        ends_idx = np.append(starts_idx[1:], n)
        return starts_idx[group], ends_idx[group]

    @property
    def groups(self) -> dict[int, tuple[int, ...]]:
        """Rows whose sentence text also appears elsewhere, mapped to all rows holding it."""
        return self._once("_groups", self._build_groups)

    def _build_groups(self) -> dict[int, tuple[int, ...]]:
        # Rows are grouped by a 64-bit hash of the normalized text, and a group's texts are
        # compared before it is kept, so a collision never merges two sentences. A dict keyed
        # by the texts themselves held every sentence's string at once: about 400 bytes a
        # sentence at a million (bench/scale.py warmup-memory), against 16 for the hashes.
        keys = hash_texts(_normalized(t) for t in self.texts())
        order = np.argsort(keys, kind="stable")
        sorted_keys = keys[order]
        same = sorted_keys[1:] == sorted_keys[:-1]  # same[i]: position i's key equals the next one's
        groups: dict[int, tuple[int, ...]] = {}
        for start in np.flatnonzero(same & np.r_[True, ~same[:-1]]).tolist():  # first of each run
            end = start + 1
            while end < len(order) and sorted_keys[end] == sorted_keys[start]:
                end += 1
            by_text: dict[str, list[int]] = {}
            for row in sorted(order[start:end].tolist()):
                by_text.setdefault(_normalized(self.text(row)), []).append(row)
            groups.update({r: tuple(rows) for rows in by_text.values() if len(rows) > 1 for r in rows})
        return groups

    def sentence(self, row: int) -> Sentence:
        doc_row, start, end, paragraph, heading = (int(x) for x in self.store.spans[row])
        doc = self.store.documents[doc_row]
        rows = self.store.doc_rows()
        return Sentence(doc=doc.path, title=doc.title, source=doc.source, date=doc.date,
                        number=row - int(rows[doc_row]) + 1, total=int(rows[doc_row + 1] - rows[doc_row]),
                        paragraph=paragraph, start=start, end=end, text=doc.text[start:end], heading=bool(heading))

    def hit(self, row: int, score: float, rank: int, duplicates: tuple[int, ...]):
        from .retrieval import Hit, Source

        sentence = self.sentence(row)
        p_start, p_end = (int(a[row]) for a in self.paragraphs)
        lo, hi = max(p_start, row - 1), min(p_end, row + 2)
        doc = self.store.documents[int(self.store.spans[row, 0])]
        c_start, c_end = int(self.store.spans[lo, 1]), int(self.store.spans[hi - 1, 2])
        sources = []
        for r in (row, *[d for d in duplicates if d != row]):
            s = self.sentence(r) if r != row else sentence
            sources.append(Source(s.doc, s.title, s.source, s.date, s.start, s.end))
        return Hit(sentence=sentence, score=float(score), rank=rank, context=doc.text[c_start:c_end],
                   context_start=c_start, sources=tuple(sources))


def _normalized(text: str) -> str:
    """The form in which two sentences count as the same: spacing and case ignored."""
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class Ranked:
    rows: list[tuple[int, float, tuple[int, ...]]]
    found: bool
    confidence: float


PHRASE_SHORTLIST = 30


def _minmax(x: np.ndarray) -> np.ndarray:
    lo, hi = float(x.min()), float(x.max())
    return (x - lo) / (hi - lo) if hi > lo else np.zeros_like(x)


@dataclass(frozen=True)
class Fusion:
    """How hybrid search ranks candidates and decides ``found``.

    Candidates are the top ``depth`` sentences of each retriever (dense and BM25). Each is
    scored by a weighted sum of signals, those on an open scale min-max normalized over the
    candidates:

    - ``dense``: its cosine with the question; ``paragraph_dense``: its paragraph's mean cosine;
    - ``bm25``: its BM25 score; ``document_bm25``: its whole article's BM25 score, which tells
      which article the question is about;
    - ``local_coverage`` / ``local_paragraph_coverage``: the share of the question's words in
      the sentence / its paragraph, each word weighted by its IDF among the article's own
      sentences (an article's subject, named in most of its sentences, tells them apart poorly);
      a sentence that points back ("They received training in ...") counts the words of the
      sentence before it as its own;
    - ``question_sentence``: added for a sentence that is itself a question (negative: a
      question repeats the words of a question and answers nothing);
    - ``answer_type``: whether it holds what the question asks for (a date for "when", a
      number for "how many", a span for "how long");
    - ``phrase``: how many of the question's word pairs (adjacent once stopwords are gone)
      the sentence repeats, up to three.

    Weights were set on SQuAD by coordinate ascent, checked by two-fold cross-validation
    over documents (bench/RESULTS.md). ``found`` asks whether the best sentence's evidence,
    its cosine plus ``evidence_coverage`` times the corpus-IDF share of the question's words
    it holds, reaches ``threshold``: a bare cosine misses questions about things the corpus
    never names. The threshold keeps false abstentions near 4% on SQuAD halves (bench/RESULTS.md).
    """

    dense: float = 0.5
    bm25: float = 0.1
    paragraph_dense: float = 0.3
    document_bm25: float = 0.3
    local_coverage: float = 0.5
    local_paragraph_coverage: float = 0.5
    question_sentence: float = -0.5
    answer_type: float = 0.3
    phrase: float = 0.1
    depth: int = 100
    threshold: float = 0.635
    evidence_coverage: float = 0.5

    def rank(self, snapshot: Snapshot, question: str, qvec: np.ndarray | None, k: int, mode: str) -> Ranked:
        store = snapshot.store
        depth = max(self.depth, 4 * k)
        if mode == "bm25":
            bm = snapshot.lexical.scores(question)
            cand = _quotable(store, _top(bm, depth))
            score = bm[cand]
            best = cand[np.argmax(score)] if len(cand) else None
            # Without a question vector, found rests on the word share alone.
            confidence = float(_coverage(snapshot, question, np.array([best]))[0]) if best is not None else 0.0
            return self._finish(snapshot, cand, score, k, confidence, confidence >= 0.5)
        _, dense_rows = store.search(qvec[None, :], depth)
        dense_rows = _quotable(store, dense_rows[0][dense_rows[0] >= 0])
        if mode == "dense":
            cand = dense_rows
            score = store.vectors[cand] @ qvec
        else:
            bm = snapshot.lexical.scores(question)
            cand = np.union1d(dense_rows, _quotable(store, _top(bm, depth)))
            score = self.score(snapshot, question, qvec, cand, bm)
        confidence = self.evidence(snapshot, question, qvec, int(cand[np.argmax(score)])) if len(cand) else 0.0
        return self._finish(snapshot, cand, score, k, confidence, confidence >= self.threshold)

    def evidence(self, snapshot: Snapshot, question: str, qvec: np.ndarray, row: int) -> float:
        """How strongly one sentence answers: cosine plus ``evidence_coverage`` times its word share."""
        cosine = float(snapshot.store.vectors[row] @ qvec)
        coverage = float(_coverage(snapshot, question, np.array([row]))[0])
        return cosine + self.evidence_coverage * coverage

    def score(self, snapshot: Snapshot, question: str, qvec: np.ndarray, cand: np.ndarray, bm: np.ndarray) -> np.ndarray:
        """Hybrid score of each candidate row (``cand`` sorted ascending)."""
        vectors = snapshot.store.vectors
        score = self.dense * _minmax(vectors[cand] @ qvec) + self.bm25 * _minmax(bm[cand])
        if self.paragraph_dense:
            score += self.paragraph_dense * _minmax(_paragraph_dense(snapshot, cand, qvec))
        if self.document_bm25:
            docs = snapshot.store.spans[cand, 0]
            score += self.document_bm25 * _minmax(snapshot.document_lexical.scores(question)[docs])
        if self.local_coverage or self.local_paragraph_coverage:
            cov, pcov = _local_coverage(snapshot, question, cand)
            score += self.local_coverage * cov + self.local_paragraph_coverage * pcov
        if self.question_sentence:
            score += self.question_sentence * snapshot.forms.question[cand]
        if self.answer_type:
            score += self.answer_type * snapshot.answer_types.match(question, cand)
        if self.phrase:
            # Tokenizing candidates is the costly part; a pair bonus of at most ``phrase``
            # only reorders the front of the list, so only the front is tokenized.
            front = np.argsort(-score)[:PHRASE_SHORTLIST]
            score[front] += self.phrase * _phrases(snapshot, question, cand[front])
        return score

    def _finish(self, snapshot, cand, score, k, confidence, found) -> Ranked:
        order = np.argsort(-score, kind="stable")
        groups = snapshot.groups
        seen: set[int] = set()
        rows = []
        for i in order:
            row = int(cand[i])
            if row in seen:
                continue
            dups = groups.get(row, (row,))
            seen.update(dups)
            rows.append((row, float(score[i]), dups))
            if len(rows) == k:
                break
        return Ranked(rows, bool(found), confidence)


def _quotable(store: Store, rows: np.ndarray) -> np.ndarray:
    """Drop subheadings: they give a paragraph its context but answer nothing themselves."""
    return rows[store.spans[rows, 4] == 0]


def _top(scores: np.ndarray, depth: int) -> np.ndarray:
    if len(scores) <= depth:
        return np.flatnonzero(scores > 0) if scores.any() else np.arange(len(scores))
    top = np.argpartition(-scores, depth)[:depth]
    return top[scores[top] > 0]


def _paragraph_dense(snapshot: Snapshot, cand: np.ndarray, qvec: np.ndarray) -> np.ndarray:
    """Mean cosine of the question with the sentences of each candidate's paragraph."""
    starts, ends = snapshot.paragraphs
    first, where = np.unique(starts[cand], return_inverse=True)
    lengths = ends[first] - first
    # Every row of every candidate paragraph, in one gather and one matrix product.
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    rows = np.repeat(first, lengths) + np.arange(int(lengths.sum())) - offsets
    sums = np.add.reduceat(snapshot.store.vectors[rows] @ qvec, np.cumsum(lengths) - lengths)
    return (sums / lengths)[where].astype(np.float32)


def _member(sorted_values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``np.isin(x, sorted_values)`` for an ascending array, without hashing it."""
    if len(sorted_values) == 0:
        return np.zeros(len(x), dtype=bool)
    i = np.minimum(np.searchsorted(sorted_values, x), len(sorted_values) - 1)
    return sorted_values[i] == x


def _coverage(snapshot: Snapshot, question: str, rows: np.ndarray) -> np.ndarray:
    """Corpus-IDF-weighted share of the question's distinct words present in each row."""
    lexical = snapshot.lexical
    tokens = set(tokenize(question))
    cov = np.zeros(len(rows), dtype=np.float32)
    if not tokens:
        return cov
    ids = lexical.query_ids(question)
    unseen = len(tokens) - len(ids)
    total = sum(lexical.idf(t) for t in ids) + unseen * float(np.log(1 + max(lexical.size, 1)))
    for t in ids:
        cov += (lexical.idf(t) / total) * _member(lexical.rows_with(t), rows)
    return cov


def _phrases(snapshot: Snapshot, question: str, cand: np.ndarray) -> np.ndarray:
    """Share (capped at 3 pairs) of the question's adjacent word pairs found in each candidate."""
    words = tokenize(question)
    pairs = set(zip(words, words[1:]))
    out = np.zeros(len(cand), dtype=np.float32)
    if not pairs:
        return out
    for i, row in enumerate(cand):
        out[i] = min(len(pairs & snapshot.word_pairs(int(row))), 3) / 3
    return out


def _local_coverage(snapshot: Snapshot, question: str, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Share of the question's words in each candidate and in its paragraph, weighted locally.

    Each word weighs its IDF among the sentences of the candidate's own article; a word the
    article lacks weighs like the article's rarest word. A candidate that points back to the
    sentence before it counts that sentence's words too.
    """
    lexical = snapshot.lexical
    tokens = set(tokenize(question))
    cov = np.zeros(len(cand), dtype=np.float32)
    pcov = np.zeros(len(cand), dtype=np.float32)
    if not tokens or len(cand) == 0:
        return cov, pcov
    store = snapshot.store
    docs = store.spans[cand, 0]
    bounds = store.doc_rows()
    doc_start, doc_end = bounds[docs], bounds[docs + 1]
    n_doc = (doc_end - doc_start).astype(np.float32)
    paragraph_of = snapshot.paragraphs[0]
    cand_paragraphs = paragraph_of[cand]
    # News paragraphs are short: "They ..." often opens a paragraph about the last one's subject.
    # A subheading in between ends the reference.
    previous = np.maximum(cand - 1, 0)
    points_back = snapshot.forms.refers_back[cand] & (cand > doc_start) & (store.spans[previous, 4] == 0)
    before = np.where(points_back, previous, cand)
    ids = lexical.query_ids(question)
    total = (len(tokens) - len(ids)) * np.log1p(n_doc)
    for t in ids:
        rows = lexical.rows_with(t)
        df = np.searchsorted(rows, doc_end) - np.searchsorted(rows, doc_start)
        weight = np.log1p(n_doc / np.maximum(df, 1))
        total = total + weight
        cov += weight * (_member(rows, cand) | _member(rows, before))
        # Posting lists are in row order, so their paragraphs' first rows are sorted too.
        pcov += weight * _member(paragraph_of[rows], cand_paragraphs)
    return cov / total, pcov / total
