"""News QA chat: ask questions about a folder of news articles, get answers quoted from them.

    python app.py                      # the seed articles, at http://127.0.0.1:7860
    python app.py --docs my_articles   # another folder (or QA_DOCS=my_articles)

Settings (flag, else environment variable, else default): --docs/QA_DOCS (seeds/),
--index/QA_INDEX (embeddings/NAME-HASH), --store/QA_STORE (local), --host/QA_HOST (127.0.0.1), --port/QA_PORT (7860),
--max-upload-mb/QA_MAX_UPLOAD_MB (10).

This file only reads the settings, opens the index and starts the server. The chat itself
(its controls, page and launch settings) is qa/interfaces/web.py.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path

from qa import QAError, Retriever
from qa.interfaces.sharing import Sharing, check_exposure, parse_auth
from qa.interfaces.web import build_app, launch_settings, spare_per_request_work
from qa.ranking import Fusion
from qa.retrieval import default_index_dir
from qa.uploads import MAX_UPLOAD_BYTES

ROOT = Path(__file__).resolve().parent
DEFAULT_PORT = 7860
# Requests handled at once. Searches arriving together are embedded in one batch by the
# retriever (qa/retrieval/batching.py), so letting 16 in at once turns 16 encodes into a few;
# with 4 the rest waited in Gradio's queue (bench/RESULTS.md, "Load").
CONCURRENT_REQUESTS = 16


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    parser = argparse.ArgumentParser(description="News QA chat: cited answers from a folder of articles.")
    parser.add_argument("--docs", default=env.get("QA_DOCS") or str(ROOT / "seeds"), help="folder of articles (QA_DOCS)")
    parser.add_argument("--index", default=env.get("QA_INDEX"), help="index folder (QA_INDEX; default embeddings/NAME-HASH)")
    parser.add_argument("--store", default=env.get("QA_STORE"),
                        help="local (default), milvus:PATH.db or milvus://HOST:PORT (QA_STORE; token from QA_MILVUS_TOKEN)")
    # Gradio's own variables are honoured too, below qa's: a deployment set up for Gradio works as is.
    parser.add_argument("--host", default=env.get("QA_HOST") or env.get("GRADIO_SERVER_NAME") or "127.0.0.1",
                        help="address to listen on (QA_HOST, else GRADIO_SERVER_NAME); other than loopback needs "
                             "--auth or --read-only")
    parser.add_argument("--port", type=int, default=int(env.get("QA_PORT") or env.get("GRADIO_SERVER_PORT") or DEFAULT_PORT),
                        help="port (QA_PORT, else GRADIO_SERVER_PORT)")
    parser.add_argument("--auth", default=env.get("QA_AUTH"), metavar="USER:PASSWORD",
                        help="ask for a login (QA_AUTH; several as USER:PW,USER2:PW2)")
    parser.add_argument("--read-only", action="store_true", default=env.get("QA_READ_ONLY", "").lower() in ("1", "true", "yes"),
                        help="no uploads or removals, in the page and through the API (QA_READ_ONLY=1)")
    parser.add_argument("--learned", action="store_true", default=env.get("QA_LEARNED", "").lower() in ("1", "true", "yes"),
                        help="rank with the learned re-ranker; the verdict then reads its calibrated probability "
                             "(QA_LEARNED=1; bench/RESULTS.md says what it gains and costs)")
    parser.add_argument("--max-upload-mb", type=float, default=float(env.get("QA_MAX_UPLOAD_MB") or MAX_UPLOAD_BYTES / 2**20),
                        help="largest file an upload may be (QA_MAX_UPLOAD_MB)")
    args = parser.parse_args(argv)
    if args.index is None:
        args.index = str(default_index_dir(args.docs, root=ROOT / "embeddings"))
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        sharing = Sharing(parse_auth(args.auth), args.read_only)
        check_exposure(args.host, sharing)
    except QAError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    # The library logs what it does (qa.*); other packages' chatter stays out of the terminal.
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    logging.getLogger("qa").setLevel(logging.INFO)
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    print(f"Indexing {args.docs} (index in {args.index}) ...", flush=True)
    started = time.perf_counter()
    try:
        if not Path(args.docs).exists():  # a new, empty library to upload into
            Path(args.docs).mkdir(parents=True)
        retriever = Retriever.from_directory(args.docs, index_dir=args.index, progress=True, store=args.store)
        if args.learned:
            retriever.fusion = Fusion.learned()
        print("Preparing search ...", flush=True)
        retriever.search("warm up", k=1)  # loads the model now, not on the first question
    except (QAError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    update = getattr(retriever, "last_update", None)  # what the start-up sync did, where the library reports it
    for path, reason in getattr(update, "skipped", ()):
        print(f"  skipped {path}: {reason}", flush=True)
    n = len(retriever.documents)
    print(f"Ready: {n} article{'s' if n != 1 else ''}, {len(retriever):,} sentences "
          f"({time.perf_counter() - started:.1f} s).", flush=True)
    max_upload = int(args.max_upload_mb * 2**20)
    spare_per_request_work()  # before the queue is made: it reads Gradio's settings then
    demo = build_app(retriever, args.docs, max_upload_bytes=max_upload, read_only=sharing.read_only)
    demo.queue(default_concurrency_limit=CONCURRENT_REQUESTS)
    settings = launch_settings(args.host, args.port, args.docs, args.index, max_upload)
    if sharing.auth:
        settings["auth"] = list(sharing.auth)
    demo.launch(**settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
