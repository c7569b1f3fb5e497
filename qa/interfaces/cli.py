"""cli: the ``qa`` command: ``qa index``, ``qa ask``, ``qa eval``.

It turns arguments into library calls and results into text (``qa.render.text``) or JSON
(``qa.render.json``); a ``QAError`` anywhere becomes one line on standard error (``main``).
Imports of the heavy stack happen inside the commands, so ``qa --help`` is instant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

DEFAULT_DOCS = "seeds"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Cited answers from a folder of news articles.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p, docs_positional=False):
        if not docs_positional:
            p.add_argument("--docs", default=DEFAULT_DOCS, metavar="DIR", help="documents folder (default: seeds)")
        p.add_argument("--index", metavar="PATH", help="index folder (default: embeddings/NAME-HASH for the documents folder)")
        p.add_argument("--model", metavar="NAME_OR_PATH", help="sentence-transformers model (default: packaged all-MiniLM-L6-v2)")
        p.add_argument("--rebuild", action="store_true", help="ignore the stored index and embed everything again")
        p.add_argument("--store", metavar="SPEC", help="where the index lives: local (default, FAISS in --index), "
                       "milvus:PATH.db (embedded Milvus) or milvus://HOST:PORT (token from QA_MILVUS_TOKEN)")

    def learned(p):
        p.add_argument("--learned", action="store_true",
                       help="hybrid search with the learned re-ranker: better on questions in readers' own words, "
                            "a little worse on SQuAD-style ones (bench/RESULTS.md)")

    def filters(p):
        p.add_argument("--since", metavar="YYYY-MM-DD", help="only articles published on or after this date")
        p.add_argument("--until", metavar="YYYY-MM-DD", help="only articles published on or before this date")
        p.add_argument("--source", action="append", default=[], metavar="NAME",
                       help="only articles from this source (case-insensitive; repeat for several)")

    p = sub.add_parser("index", help="build or update the index of a documents folder")
    p.add_argument("docs", metavar="DIR", help="documents folder (.txt, .md, .html, .pdf)")
    common(p, docs_positional=True)
    p.add_argument("--ray", metavar="local|ADDRESS", help="embed on a Ray cluster: local starts one here; HOST:PORT "
                   "or ray://HOST:10001 joins one (pip install 'qa[ray]')")
    p.add_argument("--ray-workers", type=_positive, default=2, metavar="N", help="Ray workers (default: 2)")

    p = sub.add_parser("ask", help="answer a question with cited sentences")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=3, help="number of sentences (default: 3)")
    p.add_argument("--mode", choices=("hybrid", "dense", "bm25"), default="hybrid")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    common(p)
    learned(p)
    filters(p)

    p = sub.add_parser("eval", help="measure retrieval quality on a question file (JSON lines)")
    p.add_argument("questions", metavar="QUESTIONS.jsonl")
    p.add_argument("--mode", choices=("hybrid", "dense", "bm25", "all"), default="hybrid")
    p.add_argument("--json", action="store_true", help="print one JSON object (a list with --mode all)")
    p.add_argument("--details", action="store_true",
                   help="print one JSON object per question (the search result and the answer's rank); "
                        "the summary then goes to standard error")
    common(p)
    learned(p)
    filters(p)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


def _open(args, progress: bool, embedder=None):
    from ..retrieval import Retriever

    retriever = Retriever.from_directory(args.docs, index_dir=args.index, model=args.model, progress=progress,
                                         rebuild=args.rebuild, store=args.store, embedder=embedder)
    if getattr(args, "learned", False):
        from ..ranking import Fusion

        retriever.fusion = Fusion.learned()
    return retriever


def _filter(args):
    from ..documents.filters import Filter

    f = Filter(since=args.since, until=args.until, sources=tuple(args.source))
    return f if f.active else None


def _cmd_index(args) -> int:
    if args.ray:
        from ..embedding.distributed import RayEmbedder

        with RayEmbedder(args.ray, workers=args.ray_workers, model=args.model) as embedder:
            return _index(args, _open(args, progress=sys.stderr.isatty(), embedder=embedder))
    return _index(args, _open(args, progress=sys.stderr.isatty()))


def _index(args, retriever) -> int:
    report = retriever.last_update
    print(f"{len(retriever.documents)} documents, {len(retriever)} sentences in {retriever.index_dir}")
    print(f"added {len(report.added)}, updated {len(report.updated)}, removed {len(report.removed)}, "
          f"unchanged {len(report.unchanged)}; embedded {report.embedded_sentences} sentences")
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    return 0


def _cmd_ask(args) -> int:
    from ..render import format_result, result_to_dict

    retriever = _open(args, progress=sys.stderr.isatty())
    result = retriever.search(args.question, k=args.k, mode=args.mode, filter=_filter(args))
    if args.json:
        print(json.dumps(result_to_dict(result), ensure_ascii=False, indent=1))
    else:
        print(format_result(result))
    return 0


def _cmd_eval(args) -> int:
    from ..errors import QAError
    from ..evaluation import conversations, metrics

    talk = conversations.is_conversation_file(args.questions)
    if talk and (args.details or _filter(args)):
        raise QAError("--details and filters apply to question files, not conversation files")
    questions = conversations.read_conversations(args.questions) if talk else metrics.read_questions(args.questions)
    retriever = _open(args, progress=sys.stderr.isatty())
    modes = ("bm25", "dense", "hybrid") if args.mode == "all" else (args.mode,)
    if talk:  # every turn asked as the chat asks it, after the turns before it
        reports = [conversations.evaluate_conversations(retriever, questions, mode).as_dict() for mode in modes]
    elif args.details:
        reports = [_details(retriever, questions, mode, _filter(args)) for mode in modes]
    else:
        reports = [metrics.score(questions, metrics.ask_all(retriever, questions, mode, filter=_filter(args)), mode).as_dict()
                   for mode in modes]
    # With --details standard output is JSON lines, one per question, so the summary goes to
    # standard error: ``qa eval ... --details > details.jsonl`` still shows the figures.
    summary = sys.stderr if args.details else sys.stdout
    if args.json:
        print(json.dumps(reports if args.mode == "all" else reports[0]), file=summary)
    else:
        for r in reports:
            recall = "  ".join(f"R@{k} {r[f'r@{k}']:.3f}" for k in (1, 3, 5, 10))
            line = f"{r['mode']:>6}: {r['questions']} questions  MRR@10 {r['mrr@10']:.3f}  {recall}"
            if r["unanswerable"]:
                line += f"  abstain {r['abstain_recall']:.3f}"
            line += f"  false-abstain {r['false_abstain']:.3f}"
            print(line, file=summary)
    return 0


def _details(retriever, questions, mode: str, filter=None) -> dict:
    """Print one ``qa.eval-detail/1`` line per question and return the mode's report (as ``--json``).

    The same results are printed and scored, so the details add up to the summary.
    """
    from ..evaluation import metrics
    from ..render.json import eval_detail_to_dict

    results = metrics.ask_all(retriever, questions, mode, filter=filter)
    for q, result in zip(questions, results):
        correct = [h.rank for h in result.hits if metrics.is_correct(h, q)]
        print(json.dumps(eval_detail_to_dict(result, q.id, q.doc, q.answers, correct), ensure_ascii=False))
    return metrics.score(questions, results, mode).as_dict()


def main(argv: list[str] | None = None) -> int:
    """Run ``qa`` with ``argv`` (default: the command line); the exit status: 0, 2 on an error, 130 on Ctrl-C.

    >>> main(["ask", "When did formal diplomatic relations begin?", "-k", "1", "--json"])  # doctest: +ELLIPSIS
    {
     "schema": "qa.search-result/1",
    ...
    0
    """
    args = _parser().parse_args(argv)
    # An application may set these; the library never does. qa never downloads.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from ..errors import QAError

    try:
        return {"index": _cmd_index, "ask": _cmd_ask, "eval": _cmd_eval}[args.command](args)
    except QAError as err:
        print(f"qa: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of the output went away (qa ... | head): stop quietly, as other tools do, and
        # point stdout at /dev/null so Python's own flush at exit does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
