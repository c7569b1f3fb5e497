"""app.py: its settings (flags, environment, defaults), its start-up, and that it is wiring only."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from app_support import free_port

import app
from qa.uploads import MAX_UPLOAD_BYTES


def _imports(path: Path) -> set[str]:
    """The modules a file imports, relative ones resolved (``from ..render import html`` -> qa.render.html)."""
    package = ".".join(path.relative_to(app.ROOT).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]) if node.level else ""
            module = ".".join(part for part in (base, node.module) if part)
            found |= {module, *(f"{module}.{a.name}" for a in node.names)}
    return found


def test_app_py_is_wiring_and_only_the_web_interface_imports_gradio():
    tree = ast.parse((app.ROOT / "app.py").read_text(encoding="utf-8"))
    assert {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef))} == {"parse_args", "main"}
    files = {path.relative_to(app.ROOT).as_posix(): _imports(path) for path in sorted((app.ROOT / "qa").rglob("*.py"))}
    gradio_users = [f for f, names in files.items() if any(n.split(".")[0] == "gradio" for n in names)]
    assert gradio_users and all(f.startswith("qa/interfaces/web/") for f in gradio_users), gradio_users
    # gradio is the app extra only: the library and the CLI must work without it.
    assert [f for f, names in files.items()
            if not f.startswith("qa/interfaces/web/") and any(n.startswith("qa.interfaces.web") for n in names)] == []


def test_defaults_are_the_seed_folder_on_localhost_port_7860(monkeypatch):
    for name in ("QA_DOCS", "QA_INDEX", "QA_HOST", "QA_PORT", "QA_MAX_UPLOAD_MB", "QA_LEARNED"):
        monkeypatch.delenv(name, raising=False)
    args = app.parse_args([])
    assert (args.host, args.port, Path(args.docs)) == ("127.0.0.1", 7860, app.ROOT / "seeds")
    assert Path(args.index).parent == app.ROOT / "embeddings"
    assert int(args.max_upload_mb * 2**20) == MAX_UPLOAD_BYTES


def test_environment_and_flags_configure_folders_host_and_port(monkeypatch, tmp_path):
    monkeypatch.setenv("QA_DOCS", str(tmp_path / "d"))
    monkeypatch.setenv("QA_INDEX", str(tmp_path / "i"))
    monkeypatch.setenv("QA_HOST", "0.0.0.0")
    monkeypatch.setenv("QA_PORT", "9001")
    args = app.parse_args([])
    assert (args.docs, args.index, args.host, args.port) == (str(tmp_path / "d"), str(tmp_path / "i"), "0.0.0.0", 9001)
    assert app.parse_args(["--port", "9002", "--host", "127.0.0.1"]).port == 9002


def test_the_learned_ranking_is_chosen_by_flag_or_environment(monkeypatch):
    monkeypatch.delenv("QA_LEARNED", raising=False)
    assert not app.parse_args([]).learned and app.parse_args(["--learned"]).learned
    monkeypatch.setenv("QA_LEARNED", "1")
    assert app.parse_args([]).learned


def test_start_up_problem_is_one_readable_line(tmp_path):
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("hello")
    done = subprocess.run([sys.executable, str(app.ROOT / "app.py"), "--docs", str(not_a_folder), "--index",
                           str(tmp_path / "index"), "--port", str(free_port())],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"error: {not_a_folder}: no such folder; pass a folder of .txt, .md, "
                                                ".html or .pdf files"]
