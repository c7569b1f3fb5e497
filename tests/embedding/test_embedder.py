"""Embedding backends: the ONNX Runtime export matches the torch model and loads without torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import ModelLoadError
from qa.embedding.embedder import PARITY_TOLERANCE, Embedder

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "Who is the president of Ecuador?",
    "Formal diplomatic relations began in 1949.",
    "  spaces around, and UPPER case  ",
    "x",
    "word " * 400,  # longer than the model's 256 tokens: truncated the same way
]

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")  # the one-time export needs it; queries do not


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("qa-cache")


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return Embedder(backend="torch").encode(TEXTS)


def test_onnx_backend_matches_torch(cache, torch_vectors):
    emb = Embedder(backend="onnx", cache_dir=cache)
    vectors = emb.encode(TEXTS)
    assert emb.backend == "onnx" and vectors.dtype == np.float32 and vectors.shape == (len(TEXTS), 384)
    assert np.abs(vectors - torch_vectors).max() < PARITY_TOLERANCE
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    # Batching and order do not change a text's vector.
    shuffled = Embedder(backend="onnx", cache_dir=cache, batch_size=2).encode(TEXTS[::-1])[::-1]
    assert np.abs(shuffled - vectors).max() < 1e-5
    meta = json.loads(next(cache.glob("onnx-*/meta.json")).read_text())
    assert meta["parity_max_abs_diff"] < PARITY_TOLERANCE and meta["max_seq_length"] == 256


def test_cached_export_loads_without_torch(cache, torch_vectors):
    Embedder(backend="onnx", cache_dir=cache).encode(TEXTS[:1])  # the export exists
    code = (
        "import sys, numpy as np; from qa.embedding import Embedder; "
        f"v = Embedder(cache_dir={str(cache)!r}).encode({TEXTS[:1]!r}); "
        "print(int('torch' in sys.modules), int('sentence_transformers' in sys.modules)); "
        "np.save(sys.stdout.buffer, v)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=ROOT, check=True).stdout
    flags, _, payload = out.partition(b"\n")
    assert flags == b"0 0"
    import io

    vector = np.load(io.BytesIO(payload))
    assert np.abs(vector - torch_vectors[:1]).max() < PARITY_TOLERANCE


def test_corrupted_export_is_detected_and_redone(cache, torch_vectors):
    Embedder(backend="onnx", cache_dir=cache).encode(TEXTS[:1])
    model = next(p for p in cache.glob("onnx-*/model.onnx"))
    data = bytearray(model.read_bytes())
    data[len(data) // 2] ^= 0xFF
    model.write_bytes(bytes(data))
    vectors = Embedder(backend="onnx", cache_dir=cache).encode(TEXTS)
    assert np.abs(vectors - torch_vectors).max() < PARITY_TOLERANCE


def test_torch_backend_and_empty_input():
    emb = Embedder(backend="torch")
    assert emb.encode([]).shape == (0, 384)
    assert emb.backend == "torch"


def test_unknown_backend_is_refused():
    with pytest.raises(ModelLoadError, match="unknown embedding backend"):
        Embedder(backend="tpu")


def test_missing_model_folder_is_a_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError):
        Embedder(str(tmp_path / "nowhere"), backend="onnx", cache_dir=tmp_path).encode(["x"])
