"""Embedding on a Ray cluster: the vectors of ``Embedder``, computed by several workers.

``RayEmbedder`` has ``Embedder``'s contract (``encode(texts, progress=False)`` -> float32
``(n, dimension)`` unit vectors in input order, ``model_id``, ``dimension``), so a
``Retriever`` takes either. Each Ray worker (an actor of a Ray Data ``map_batches`` pool)
holds one ``Embedder`` and so loads the model once; every worker runs the same model files
and backend as one process would, so the vectors are the one-process vectors.

Exactly-once output: every row carries its position in the input, and the driver writes
each returned vector at that position. A worker that dies mid-batch (killed, out of memory)
is restarted by Ray and its batch retried (``max_task_retries``); a retried batch writes the
same rows again, it never appends, and a build that ends with a row missing raises.

``address="local"`` starts a small Ray instance on this machine for the duration (shut down
by ``close()``, or at the end of a ``with`` block); ``"auto"`` joins the one already running
here; ``"HOST:PORT"`` (a head's GCS address, from a node of the cluster) or
``"ray://HOST:10001"`` (Ray Client, from anywhere) connect to a cluster, whose workers need
qa and its model package installed (or a ``runtime_env`` that brings them). A Ray session
already open in this process is used as it is, and left open.

Ray is an optional dependency: ``pip install 'qa[ray]'``. Importing this module does not
import Ray.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import threading
import warnings
from typing import Callable

import numpy as np

from ..errors import QAError
from .embedder import DEFAULT_MODEL, Embedder

log = logging.getLogger(__name__)

# A small instance by default: the object store only holds text blocks in flight and the
# vectors on their way back to the driver (Ray spills to disk beyond it).
DEFAULT_OBJECT_STORE_BYTES = 200 * 1024 * 1024
# Calls with fewer texts than this (a question, a handful of new sentences) are encoded in
# this process: a Ray job costs seconds to schedule, a query a few milliseconds.
DEFAULT_LOCAL_BELOW = 64
DEFAULT_TASK_RETRIES = 3
_CONNECT_TIMEOUT_S = 5.0
_QUIET_ENV = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_USAGE_STATS_PROMPT_ENABLED": "0"}

ProgressCallback = Callable[[int, int], None]


class RayClusterError(QAError):
    """Ray is not installed, the cluster cannot be reached, or a distributed build failed."""


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401 - the [data] extra: pyarrow, pandas
    except ImportError as err:
        raise RayClusterError(f"embedding on Ray needs Ray Data ({err}); run: pip install 'qa[ray]'") from None
    return ray


class _EmbedWorker:
    """One Ray actor: one ``Embedder``, loaded when the actor starts; a batch in, vectors by position out."""

    def __init__(self, model: str | None, backend: str | None, batch_size: int | None):
        self.embedder = Embedder(model, batch_size=batch_size, backend=backend)
        self.embedder.encode(["warm up"])  # load (and, once per machine, export) before the first batch

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        return {"pos": np.asarray(batch["pos"], dtype=np.int64), "vec": self.embedder.encode(texts)}


class RayEmbedder:
    """Encodes texts on a Ray cluster with ``workers`` actors, each holding one ``Embedder``.

    Construction is cheap: nothing connects or loads until the first ``encode`` that needs
    the cluster. ``batch_size`` is the number of texts per Ray task (the unit that is retried);
    each worker still encodes in its backend's own small, length-sorted batches. ``model`` and
    ``backend`` are ``Embedder``'s. ``num_cpus`` (default ``workers``) and
    ``object_store_memory`` size the instance ``address="local"`` starts. ``local_below``:
    calls with fewer texts run in this process (0: always on Ray). ``runtime_env`` is passed to
    ``ray.init`` (with usage statistics turned off). ``worker`` replaces the actor class (a
    subclass of ``_EmbedWorker``; tests use it to kill a worker).

    >>> with RayEmbedder("local", workers=2) as emb:   # doctest: +SKIP
    ...     emb.encode(sentences, progress=True).shape
    (2500, 384)
    """

    def __init__(self, address: str = "local", workers: int = 2, batch_size: int = 256, model: str | None = None,
                 backend: str | None = None, num_cpus: int | None = None,
                 object_store_memory: int = DEFAULT_OBJECT_STORE_BYTES, local_below: int = DEFAULT_LOCAL_BELOW,
                 max_task_retries: int = DEFAULT_TASK_RETRIES, runtime_env: dict | None = None,
                 worker: type | None = None):
        if workers < 1:
            raise ValueError("workers must be at least 1")
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.address = (address or "local").strip()
        self.workers = int(workers)
        self.batch_size = int(batch_size)
        self.model_id = model or DEFAULT_MODEL
        self._model = model
        self.requested_backend = backend or os.environ.get("QA_EMBED_BACKEND") or "auto"
        self.num_cpus = num_cpus
        self.object_store_memory = int(object_store_memory)
        self.local_below = int(local_below)
        self.max_task_retries = int(max_task_retries)
        self.runtime_env = dict(runtime_env or {})
        self.worker_cls = worker or _EmbedWorker
        self._local: Embedder | None = None
        self._ray = None
        self._owns_session = False
        self._lock = threading.RLock()

    # -- Embedder's contract -------------------------------------------------------------

    @property
    def dimension(self) -> int:
        return self._local_embedder().dimension

    @property
    def backend(self) -> str | None:
        """The backend this process resolved (the workers are given the same request)."""
        return self._local.backend if self._local is not None else None

    def encode(self, texts: list[str], progress: bool | ProgressCallback = False) -> np.ndarray:
        """Encode ``texts`` on the cluster into an (n, dimension) float32 array of unit vectors, in order.

        ``progress``: ``True`` shows a bar on standard error; a callable gets
        ``(sentences_done, total)`` after each batch.
        """
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) < self.local_below:
            return self._local_embedder().encode(texts, progress=progress is True)
        with self._lock:
            self._connect()
            return self._encode_on_ray(texts, progress)

    # -- lifecycle -----------------------------------------------------------------------

    def close(self) -> None:
        """Shut down the Ray instance this embedder started (a session it joined stays open)."""
        with self._lock:
            if self._ray is not None and self._owns_session:
                self._ray.shutdown()
            self._ray = None
            self._owns_session = False

    def __enter__(self) -> "RayEmbedder":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"RayEmbedder(address={self.address!r}, workers={self.workers}, model={self.model_id!r})"

    # -- internals -----------------------------------------------------------------------

    def _local_embedder(self) -> Embedder:
        if self._local is None:
            self._local = Embedder(self._model, backend=self.requested_backend)
        return self._local

    def _runtime_env(self) -> dict:
        env = dict(self.runtime_env)
        env["env_vars"] = {**_QUIET_ENV, **dict(env.get("env_vars") or {})}
        return env

    def _connect(self) -> None:
        if self._ray is not None and self._ray.is_initialized():
            return
        ray = _import_ray()
        if self.address != "local":
            _check_reachable(self.address)  # even with a session open: a wrong address must say so
        if ray.is_initialized():
            self._ray, self._owns_session = ray, False
            return
        common = dict(log_to_driver=False, logging_level=logging.WARNING, runtime_env=self._runtime_env(),
                      namespace="qa")
        if self.address == "local":
            try:
                # The head processes started here read the usage-statistics switch from their
                # environment: set it for their start only, unless the user chose.
                with _scoped_env(_QUIET_ENV):
                    ray.init(num_cpus=self.num_cpus or self.workers, object_store_memory=self.object_store_memory,
                             include_dashboard=False, **common)
            except (Exception, SystemExit) as err:
                with contextlib.suppress(Exception):
                    ray.shutdown()
                raise RayClusterError(f"cannot start a local Ray instance: {_first_line(err)}") from None
        else:
            try:
                ray.init(address=self.address, **common)
            except (Exception, SystemExit) as err:  # Ray exits the process when its GCS never answers
                with contextlib.suppress(Exception):
                    ray.shutdown()
                raise RayClusterError(f"cannot connect to the Ray cluster at {self.address} "
                                      f"({_first_line(err)}): is the Ray head running there?") from None
        self._ray, self._owns_session = ray, True

    def _encode_on_ray(self, texts: list[str], progress: bool | ProgressCallback) -> np.ndarray:
        import pyarrow as pa
        import ray.data

        n = len(texts)
        # Long texts first, so that each batch holds texts of similar length (little padding);
        # the position column puts every vector back where its text was.
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
        order = np.argsort(-lengths, kind="stable")
        blocks = [pa.table({"pos": pa.array(order[lo:lo + self.batch_size], type=pa.int64()),
                            "text": pa.array([texts[i] for i in order[lo:lo + self.batch_size]], type=pa.large_string())})
                  for lo in range(0, n, self.batch_size)]
        out: np.ndarray | None = None
        filled = np.zeros(n, dtype=bool)
        done = 0
        report, bar = _progress(progress, n)
        ctx = ray.data.DataContext.get_current()
        saved = ctx.enable_progress_bars
        ctx.enable_progress_bars = False  # qa's own bar counts sentences; Ray's would print per operator
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
                ds = ray.data.from_arrow(blocks).map_batches(
                    self.worker_cls,
                    fn_constructor_kwargs={"model": self._model, "backend": self.requested_backend, "batch_size": None},
                    batch_size=self.batch_size, batch_format="numpy", num_cpus=1,
                    compute=ray.data.ActorPoolStrategy(size=min(self.workers, len(blocks))),
                    # Ray's defaults restart a dead actor forever and retry its tasks forever; a
                    # batch that kills its worker every time must fail the build instead.
                    **_retry_args(self.max_task_retries),
                )
            for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                pos = np.asarray(batch["pos"], dtype=np.int64)
                vec = np.asarray(batch["vec"], dtype=np.float32)
                if out is None:
                    out = np.zeros((n, vec.shape[1]), dtype=np.float32)
                out[pos] = vec  # by position: a row seen again replaces, never appends
                done += int(np.count_nonzero(~filled[pos]))
                filled[pos] = True
                report(done)
        except QAError:
            raise
        except Exception as err:
            raise RayClusterError(f"the embedding on the Ray cluster at {self.address} failed: {_cause(err)}") from err
        finally:
            ctx.enable_progress_bars = saved
            if bar is not None:
                bar.close()
        if out is None or not filled.all():
            missing = n - int(filled.sum())
            raise RayClusterError(f"{missing} of {n} sentences came back from the Ray cluster without a vector; "
                                  "run the build again")
        return out


def _retry_args(retries: int) -> dict:
    # Passed as map_batches' remote arguments (deprecated there from Ray 2.60, kept to 2.64).
    return {"max_restarts": -1, "max_task_retries": retries}


@contextlib.contextmanager
def _scoped_env(values: dict[str, str]):
    added = [k for k in values if k not in os.environ]
    for k in added:
        os.environ[k] = values[k]
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


def _check_reachable(address: str) -> None:
    """Fail in seconds, not minutes, when nothing listens at ``address`` (Ray itself waits ~5 min)."""
    if address == "auto":
        return
    target = address.removeprefix("ray://").split("/", 1)[0]
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        port_hint = "10001" if address.startswith("ray://") else "6379"
        raise RayClusterError(f"bad Ray address {address!r}: use local, auto, HOST:PORT or ray://HOST:{port_hint}")
    try:
        socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as err:
        raise RayClusterError(f"cannot connect to the Ray cluster at {address} ({err.strerror or err}): "
                              "is the Ray head running there?") from None


def _progress(progress: bool | ProgressCallback, total: int):
    if callable(progress):
        return (lambda done: progress(done, total)), None
    if not progress:
        return (lambda done: None), None
    from tqdm import tqdm

    bar = tqdm(total=total, desc="embedding on Ray", unit="sentence")

    def report(done: int) -> None:
        bar.update(done - bar.n)

    return report, bar


def _cause(err: BaseException) -> str:
    """The one line that says what went wrong inside a Ray error: the worker's own exception, not Ray's wrappers.

    Ray ships a worker's exception to the driver as text inside its own errors (an actor that
    died in ``__init__``, a batch that raised), so the root cause is the first
    ``Type: message`` line of that text whose type is not Ray's.
    """
    chain, seen = [], err
    while seen is not None and len(chain) < 8 and all(seen is not c for c in chain):
        chain.append(seen)
        seen = getattr(seen, "cause", None) or seen.__cause__ or seen.__context__
    for exc in chain:
        if not type(exc).__module__.startswith("ray"):
            return f"{type(exc).__name__}: {_first_line(exc)}"
        for line in _ANSI.sub("", str(exc)).splitlines():
            found = _EXC_LINE.match(line)
            if found and not found.group(1).startswith("ray."):
                return f"{found.group(1).rsplit('.', 1)[-1]}: {found.group(2).strip()}"
    return f"{type(chain[-1]).__name__}: {_first_line(chain[-1])}"


_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_EXC_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning)): (.+)$")


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__
