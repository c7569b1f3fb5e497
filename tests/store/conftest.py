"""Fixtures of the store tests: every backend of the contract (local always; Milvus where installed)."""

from __future__ import annotations

import importlib.util
import uuid

import pytest
from store_support import LocalBackend, MilvusBackend

HAVE_MILVUS = all(importlib.util.find_spec(m) for m in ("pymilvus", "milvus_lite"))
_needs_milvus = pytest.mark.skipif(not HAVE_MILVUS, reason="pip install -e '.[milvus]' to run the Milvus stores")


def prefixed(spec: str) -> str:
    return f"{spec}?prefix=t{uuid.uuid4().hex[:12]}"  # every test its own collections


@pytest.fixture(scope="module")
def embedded_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("milvus") / "store.db"
    yield f"milvus:{path}"
    from milvus_lite import server_manager_instance

    server_manager_instance.release_server(str(path))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from milvus_server import MilvusLiteServer

    with MilvusLiteServer(tmp_path_factory.mktemp("milvus-server") / "data") as running:
        yield running


@pytest.fixture(params=["local", pytest.param("milvus-lite", marks=_needs_milvus),
                        pytest.param("milvus-server", marks=[pytest.mark.slow, _needs_milvus])])
def backend(request, tmp_path):
    if request.param == "local":
        return LocalBackend(tmp_path)
    if request.param == "milvus-lite":
        return MilvusBackend("milvus-lite", prefixed(request.getfixturevalue("embedded_db")))
    return MilvusBackend("milvus-server", prefixed(request.getfixturevalue("server").spec))


