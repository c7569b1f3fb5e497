"""FAISS search structures over a matrix of unit vectors, exact or approximate (IVF).

Up to ``EXACT_SEARCH_LIMIT`` sentences search is exact: one matrix-vector product over float32
vectors (a 50k scan reads 77 MB, a few ms on one core). Above it an IVF index with 4-bit
codes picks candidates and the stored vectors, kept as float16 to halve memory, rescore them
exactly; recall@10 against exact search is measured in bench/RESULTS.md ("Speed and scale").

Both take an optional row mask (a filter) and apply it inside the search.
"""

from __future__ import annotations

import copy
import io
import re

import numpy as np

EXACT_SEARCH_LIMIT = 50_000
# IVF parameters: ~sqrt(n) lists, trained on at most 64 points a list (k-means cost grows
# with both), NPROBE lists scanned per query, RESCORE candidates rescored per result wanted.
IVF_POINTS_PER_LIST = 64
IVF_NPROBE = 48
IVF_RESCORE = 4
# A filter admitting at most this many rows is searched exactly over those rows: probing a
# few IVF lists could otherwise find fewer than k admitted sentences.
FILTERED_EXACT_LIMIT = 50_000


def vector_dtype(n: int) -> type:
    """How a store of ``n`` sentences keeps its vectors in memory (and on disk)."""
    return np.float32 if n <= EXACT_SEARCH_LIMIT else np.float16


class ExactIndex:
    """Exact inner-product search: one matrix-vector product per query, no copy of the vectors."""

    def __init__(self, vectors: np.ndarray):
        self.vectors = vectors

    def rebind(self, vectors: np.ndarray) -> "ExactIndex":
        return ExactIndex(vectors)

    def search(self, queries: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        scores = queries @ self.vectors.T
        if mask is not None:
            scores[:, ~mask] = -np.inf
        return top_k(scores, np.broadcast_to(np.arange(scores.shape[1]), scores.shape), k)


class ApproximateIndex:
    """FAISS IVF with 4-bit scalar-quantized codes; candidates rescored with the exact vectors.

    The IVF scan over 4-bit codes ranks well but not exactly; taking ``IVF_RESCORE`` times
    more candidates than asked and rescoring them with the stored vectors gives the exact
    order among everything the probed lists hold. 4-bit codes (192 bytes a sentence) find
    the same top 10 as 8-bit ones (384 bytes) at 60k, 100k and 1M sentences. Smaller codes
    were measured and not taken (bench/RESULTS.md, "Speed and scale"): product quantization
    either lost recall or took 20-130 s to train where these take 1-10 s (and every save of
    a changed index trains anew); 2-bit RaBitQ matched on sentence vectors but fell to
    recall@10 0.95-0.97 on the clustered vectors of tests/test_scale.py.
    """

    def __init__(self, vectors: np.ndarray, nprobe: int | None = None, seed: int = 1234):
        import faiss

        n, d = vectors.shape
        self.vectors = vectors
        nlist = max(1, min(int(round(np.sqrt(n))), n // 39 or 1))  # faiss wants >= 39 points a list
        coarse = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFScalarQuantizer(coarse, d, nlist, faiss.ScalarQuantizer.QT_4bit, faiss.METRIC_INNER_PRODUCT)
        index.cp.max_points_per_centroid = IVF_POINTS_PER_LIST
        index.cp.niter = 10
        index.cp.seed = seed
        rng = np.random.default_rng(seed)
        sample = vectors[np.sort(rng.choice(n, size=min(n, nlist * IVF_POINTS_PER_LIST), replace=False))]
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        for lo in range(0, n, 65536):  # float32 copies a chunk at a time, not all at once
            index.add(np.ascontiguousarray(vectors[lo:lo + 65536], dtype=np.float32))
        index.nprobe = min(nlist, nprobe or IVF_NPROBE)
        self._coarse = coarse  # the IVF index points into it: keep it alive
        self.index = index
        self.nlist = nlist

    def rebind(self, vectors: np.ndarray) -> "ApproximateIndex":
        """The same IVF index, rescoring with ``vectors`` (the same values held elsewhere, e.g. mapped)."""
        other = copy.copy(self)
        other.vectors = vectors
        return other

    def write(self, f) -> None:
        """Write the FAISS index (quantizer, codes, ids) to the binary file ``f``."""
        import faiss

        faiss.write_index(self.index, faiss.PyCallbackIOWriter(f.write))

    @classmethod
    def read(cls, data: bytes, vectors: np.ndarray) -> "ApproximateIndex":
        """The index ``write`` wrote as ``data``, rescoring with ``vectors``; ValueError if it does not fit them."""
        import faiss

        try:
            index = faiss.read_index(faiss.PyCallbackIOReader(io.BytesIO(data).read))
        except RuntimeError as err:  # FAISS's messages span lines and start with its C++ source location
            message = re.sub(r"^Error in .* at \S+:\d+: ", "", " ".join(str(err).split()))
            raise ValueError(message[:200]) from None
        n, d = vectors.shape
        if not isinstance(index, faiss.IndexIVF) or index.metric_type != faiss.METRIC_INNER_PRODUCT \
                or index.ntotal != n or index.d != d:
            raise ValueError(f"it holds {type(index).__name__} of {index.ntotal} {index.d}-dimensional vectors, "
                             f"not an inner-product IVF index of {n} {d}-dimensional ones")
        self = cls.__new__(cls)
        index.nprobe = min(index.nlist, IVF_NPROBE)
        self._coarse = None  # read_index gives the IVF index ownership of its quantizer
        self.index, self.vectors, self.nlist = index, vectors, index.nlist
        return self

    def search(self, queries: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        if mask is not None:
            allowed = np.flatnonzero(mask)
            if len(allowed) <= FILTERED_EXACT_LIMIT:
                scores = queries @ self.vectors[allowed].astype(np.float32).T
                return top_k(scores, np.broadcast_to(allowed, scores.shape), k)
        fetch = min(len(self.vectors), k * IVF_RESCORE)
        if mask is None:
            _, rows = self.index.search(queries, fetch)
        else:
            import faiss

            bits = np.packbits(mask, bitorder="little")  # kept alive while the selector reads it
            selector = faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bits))
            params = faiss.SearchParametersIVF(sel=selector, nprobe=self.index.nprobe)
            _, rows = self.index.search(queries, fetch, params=params)
        safe = np.where(rows >= 0, rows, 0)
        scores = np.einsum("qkd,qd->qk", self.vectors[safe].astype(np.float32), queries)
        scores[rows < 0] = -np.inf
        return top_k(scores, rows, k)


def top_k(scores: np.ndarray, rows: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (score, row) pairs of each query, best first; rows -1 where there are fewer."""
    k_eff = min(k, scores.shape[1])
    if k_eff == 0:
        return np.zeros((scores.shape[0], 0), np.float32), np.zeros((scores.shape[0], 0), np.int64)
    part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff] if k_eff < scores.shape[1] else \
        np.broadcast_to(np.arange(scores.shape[1]), (scores.shape[0], scores.shape[1]))
    top = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-top, axis=1, kind="stable")
    part = np.take_along_axis(part, order, axis=1)
    out_scores = np.take_along_axis(scores, part, axis=1).astype(np.float32)
    out_rows = np.take_along_axis(np.asarray(rows), part, axis=1).astype(np.int64)
    out_rows[~np.isfinite(out_scores)] = -1
    return out_scores, out_rows


def build_index(vectors: np.ndarray):
    """The search structure for ``vectors``: exact up to ``EXACT_SEARCH_LIMIT`` rows, IVF above."""
    if len(vectors) > EXACT_SEARCH_LIMIT:
        return ApproximateIndex(vectors)
    return ExactIndex(np.ascontiguousarray(vectors, dtype=np.float32))
