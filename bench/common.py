"""Paths, data and measuring helpers shared by bench/speed.py and bench/scale.py.

Data: BBC articles from /work/shared/data/bbc and SQuAD dev half A (``QA_DATA`` moves both);
the benchmark's own indexes live in ``WORK`` (``QA_BENCH_DIR``), outside the repository.
Importing this module puts the repository root on ``sys.path`` so that ``qa`` imports.
"""

from __future__ import annotations

import json
import os
import platform
import random
import re
import resource
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = Path(os.environ.get("QA_DATA", "/work/shared/data"))
BBC = DATA / "bbc"
SQUAD_DOCS = DATA / "squad-dev-a" / "docs"
SQUAD_QUESTIONS = DATA / "squad-dev-a" / "questions.jsonl"
# The benchmark owns its indexes: a fixed folder so that a second run reuses the real vectors.
WORK = Path(os.environ.get("QA_BENCH_DIR", Path(tempfile.gettempdir()) / "qa-bench"))


def cpu_model() -> str:
    """The processor's name: the same code measured 1.7x apart on two 2-core machines (RESULTS.md, "Load")."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return f"{cpu_model()}, {os.cpu_count()} cores, load average {load:.1f} at start, Python {platform.python_version()}"


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


# -- data: the real SQuAD index, synthetic large stores, questions ----------------------

def squad_retriever():
    from qa.retrieval import Retriever

    return Retriever.from_directory(SQUAD_DOCS, index_dir=WORK / "squad-dev-a")


_WORD = re.compile(r"[A-Za-z]{4,}")


def synthesize(base_store, n_sentences: int, seed: int = 0):
    """A Store of about ``n_sentences`` made from ``base_store``: SYNTHETIC.

    Copy c of each real article gets 30% of its words of four or more letters replaced by
    random words of the corpus (so sentences are distinct and BM25 statistics stay natural),
    and each sentence the vector of the real sentence at the same position plus Gaussian
    noise (sigma 0.03 a component, a cosine of about 0.86 with the real one), renormalized.
    """
    from qa.store import Corpus, LocalStore
    from qa.documents.loading import Document
    from qa.documents.sentences import split_document

    rng = random.Random(seed)
    nrng = np.random.default_rng(seed)
    docs = base_store.corpus.documents
    vocab = sorted({w for d in docs for w in _WORD.findall(d.text)})
    rows = base_store.corpus.doc_rows()
    out_docs, spans_parts, vec_parts = [], [], []
    total, copy = 0, 0
    while total < n_sentences:
        for i, d in enumerate(docs):
            if total >= n_sentences:
                break
            text = _WORD.sub(lambda m: rng.choice(vocab) if rng.random() < 0.3 else m.group(0), d.text)
            doc = Document(path=f"synthetic-{copy:04d}/{d.path}", title=d.title, text=text, sha256=f"{copy}-{d.sha256}",
                           source=d.source, date=d.date)
            spans = split_document(doc)
            real = base_store.matrix[rows[i]:rows[i + 1]].astype(np.float32)
            take = np.minimum(np.arange(len(spans)), len(real) - 1)
            noisy = real[take] + nrng.normal(0, 0.03, (len(spans), real.shape[1])).astype(np.float32)
            noisy /= np.linalg.norm(noisy, axis=1, keepdims=True)
            out_docs.append(doc)
            spans_parts.append(np.array([(len(out_docs) - 1, s.start, s.end, s.paragraph, int(s.heading)) for s in spans],
                                        dtype=np.int32).reshape(-1, 5))
            vec_parts.append(noisy.astype(np.float16))
            total += len(spans)
        copy += 1
    spans = np.concatenate(spans_parts)
    vectors = np.concatenate(vec_parts)
    del vec_parts, spans_parts
    return LocalStore(base_store.model, base_store.dimension, Corpus(tuple(out_docs), spans), vectors)


def questions(n: int) -> list[str]:
    with open(SQUAD_QUESTIONS) as f:
        qs = [json.loads(line)["question"] for line in f]
    rng = random.Random(7)
    rng.shuffle(qs)
    return qs[:n]


def memory() -> dict:
    """This process's resident memory in bytes: all of it, anonymous (private) and file-backed."""
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key = line.split(":")[0]
            if key in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                out[key] = int(line.split()[1]) * 1024
    return out


def mapped_resident(path_suffix: str) -> tuple[int, int]:
    """(size, resident bytes) of this process's mappings of files whose path ends with ``path_suffix``."""
    size = rss = 0
    current = False
    with open("/proc/self/smaps") as f:
        for line in f:
            first = line.split(maxsplit=1)[0]
            if "-" in first and not first.endswith(":"):  # a mapping's header line
                current = line.rstrip().endswith(path_suffix)
            elif current and first == "Size:":
                size += int(line.split()[1]) * 1024
            elif current and first == "Rss:":
                rss += int(line.split()[1]) * 1024
    return size, rss


def memory_parts(snapshot) -> dict:
    """Bytes held by each structure of a warm snapshot (arrays by nbytes, texts by getsizeof).

    Mapped vectors count by their resident pages, not their size.
    """
    store = snapshot.store
    if isinstance(store.matrix, np.memmap):
        parts = {"vectors_mapped_resident": mapped_resident("vectors.npy")[1]}
    else:
        parts = {"vectors": store.matrix.nbytes}
    parts.update({"spans": store.corpus.spans.nbytes, "document_texts": sum(sys.getsizeof(d.text) for d in store.corpus.documents)})
    index = store._faiss
    if index is not None and hasattr(index, "index"):
        parts["ivf_codes_and_ids"] = index.index.ntotal * (index.index.code_size + 8)

    parts["bm25_sentences"] = getattr(snapshot._lexical, "nbytes", 0)
    parts["bm25_documents"] = getattr(snapshot._document_lexical, "nbytes", 0)
    return parts
