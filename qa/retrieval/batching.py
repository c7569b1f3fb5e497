"""Batching: questions arriving together from several threads are embedded in one call.

The first thread to arrive encodes; questions that arrive while it does (or within
``wait`` seconds of it starting) wait and go into the next call, taken by whichever of them
gets there first. A lone question is encoded at once, so one user sees no added latency;
twenty at once cost a few batched encodes instead of twenty single ones, which on a 2-core
machine is what keeps the tail latency down (bench/load.py, bench/RESULTS.md "Load").
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

import numpy as np


class MicroBatcher:
    """Embed texts through ``encode(texts) -> (n, d)``, combining concurrent calls.

    >>> import numpy as np
    >>> b = MicroBatcher(lambda texts: np.array([[len(t)] for t in texts], np.float32))
    >>> b.encode(["one", "three"]).ravel().tolist()
    [3.0, 5.0]
    """

    def __init__(self, encode, max_batch: int = 64, wait: float = 0.002):
        self._encode = encode
        self.max_batch = max_batch  # texts per encode call: larger batches stop paying off on a CPU
        self.wait = wait  # how long an encoder waits for company when others are already queued
        self._cond = threading.Condition()
        self._queue: list[tuple[list[str], Future]] = []
        self._busy = False

    def encode(self, texts: list[str]) -> np.ndarray:
        future: Future = Future()
        with self._cond:
            self._queue.append((list(texts), future))
            # Whoever finds the encoder idle and is still unanswered encodes the next batch, so
            # each caller returns as soon as its own texts are done.
            while not future.done():
                if self._busy:
                    self._cond.wait()
                    continue
                self._busy = True
                if self.wait and len(self._queue) > 1:
                    self._cond.wait(self.wait)  # more are arriving: let them join this batch
                batch = self._take()
                self._cond.release()
                try:
                    self._run(batch)
                finally:
                    self._cond.acquire()
                    self._busy = False
                    self._cond.notify_all()
        return future.result()

    def _take(self) -> list[tuple[list[str], Future]]:
        batch, size = [], 0
        while self._queue and (not batch or size + len(self._queue[0][0]) <= self.max_batch):
            item = self._queue.pop(0)
            batch.append(item)
            size += len(item[0])
        return batch

    def _run(self, batch) -> None:
        texts = [t for item, _ in batch for t in item]
        try:
            vectors = self._encode(texts)
        except BaseException as err:  # every waiter gets the error, not a hang
            for _, future in batch:
                future.set_exception(err)
            return
        pos = 0
        for item, future in batch:
            future.set_result(vectors[pos:pos + len(item)])
            pos += len(item)
