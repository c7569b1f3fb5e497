"""cli: the ``qa`` command: ``qa index``, ``qa ask``, ``qa eval``.

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

    p = sub.add_parser("index", help="build or update the index of a documents folder")
    p.add_argument("docs", metavar="DIR", help="documents folder (.txt, .md, .html, .pdf)")
    common(p, docs_positional=True)

    p = sub.add_parser("ask", help="answer a question with cited sentences")
    p.add_argument("question")
    p.add_argument("-k", type=int, default=3, help="number of sentences (default: 3)")
    p.add_argument("--mode", choices=("hybrid", "dense", "bm25"), default="hybrid")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    common(p)

    p = sub.add_parser("eval", help="measure retrieval quality on a question file (JSON lines)")
    p.add_argument("questions", metavar="QUESTIONS.jsonl")
    p.add_argument("--mode", choices=("hybrid", "dense", "bm25", "all"), default="hybrid")
    p.add_argument("--json", action="store_true", help="print one JSON object (a list with --mode all)")
    common(p)
    return parser


def _open(args, progress: bool):
    from ..retrieval import Retriever

    return Retriever.from_directory(args.docs, index_dir=args.index, model=args.model, progress=progress,
                                    rebuild=args.rebuild)


def _cmd_index(args) -> int:
    retriever = _open(args, progress=sys.stderr.isatty())
    report = retriever.last_update
    print(f"{len(retriever.documents)} documents, {len(retriever)} sentences in {retriever.index_dir}")
    print(f"added {len(report.added)}, updated {len(report.updated)}, removed {len(report.removed)}, "
          f"unchanged {len(report.unchanged)}; embedded {report.embedded_sentences} sentences")
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    return 0


def _cmd_ask(args) -> int:
    retriever = _open(args, progress=sys.stderr.isatty())
    result = retriever.search(args.question, k=args.k, mode=args.mode)
    if args.json:
        print(json.dumps(result_to_dict(result), ensure_ascii=False, indent=1))
    else:
        print(format_result(result))
    return 0


def format_result(result) -> str:
    """A SearchResult as terminal text: quoted sentences, each with its citation."""
    lines = []
    if result.truncated:
        lines.append("(the question was cut to its first 2,000 characters)")
    if not result.found:
        lines.append("The documents do not seem to answer this question.")
        if result.hits:
            lines.append("Possibly related:")
    for h in result.hits:
        s = h.sentence
        where = ", ".join(x for x in (s.source, s.date) if x)
        lines.append(f"[{h.rank}] \"{h.text}\"")
        lines.append(f"    {s.title}{f' ({where})' if where else ''}; {s.doc}, sentence {s.number} of {s.total}, "
                     f"paragraph {s.paragraph}, chars {s.start}-{s.end}; score {h.score:.2f}")
    if not result.hits:
        lines.append("The index is empty: add documents with qa index DIR.")
    return "\n".join(lines)


def result_to_dict(result) -> dict:
    """A SearchResult as plain JSON-ready data."""
    return {
        "question": result.question,
        "found": result.found,
        "confidence": round(result.confidence, 4),
        "mode": result.mode,
        "truncated": result.truncated,
        "hits": [
            {
                "rank": h.rank, "score": round(h.score, 4), "text": h.text,
                "doc": h.sentence.doc, "title": h.sentence.title, "source": h.sentence.source,
                "date": h.sentence.date, "sentence": h.sentence.number, "sentences": h.sentence.total,
                "paragraph": h.sentence.paragraph, "start": h.sentence.start, "end": h.sentence.end,
                "context": h.context, "context_start": h.context_start,
                "sources": [{"doc": s.doc, "title": s.title, "source": s.source, "date": s.date,
                             "start": s.start, "end": s.end} for s in h.sources],
            }
            for h in result.hits
        ],
    }


def _cmd_eval(args) -> int:
    from ..evaluation import evaluate, read_questions

    questions = read_questions(args.questions)
    retriever = _open(args, progress=sys.stderr.isatty())
    modes = ("bm25", "dense", "hybrid") if args.mode == "all" else (args.mode,)
    reports = [evaluate(retriever, questions, mode).as_dict() for mode in modes]
    if args.json:
        print(json.dumps(reports if args.mode == "all" else reports[0]))
    else:
        for r in reports:
            recall = "  ".join(f"R@{k} {r[f'r@{k}']:.3f}" for k in (1, 3, 5, 10))
            line = f"{r['mode']:>6}: {r['questions']} questions  MRR@10 {r['mrr@10']:.3f}  {recall}"
            if r["unanswerable"]:
                line += f"  abstain {r['abstain_recall']:.3f}"
            line += f"  false-abstain {r['false_abstain']:.3f}"
            print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
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


if __name__ == "__main__":
    sys.exit(main())
