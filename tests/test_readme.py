"""Every code example in the README runs, and prints what the README says it prints.

The two set-up commands at the top (`./run app`, `./run test`) are what CI itself runs;
the browser tests start the app the same way `./run app` does.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import time
import urllib.request

import pytest

from app_support import ROOT, free_port

README = (ROOT / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```(\w*)\n(.*?)```", README, flags=re.S)
PYTHON = [code for lang, code in BLOCKS if lang == "python"]
SHELL = [line for lang, code in BLOCKS if lang == "sh" for line in code.splitlines() if line.startswith("qa ")]
TRANSCRIPTS = [code for lang, code in BLOCKS if lang == "" and code.startswith("$ qa ")]


def _qa(args: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_readme_opens_with_the_two_setup_commands():
    first = BLOCKS[0][1].splitlines()
    assert first[0].startswith("./run app") and first[1].startswith("./run test")
    assert (ROOT / "run").stat().st_mode & 0o111
    assert "./run test" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("line", SHELL)
def test_shell_example_runs(line):
    done = _qa(shlex.split(line)[1:])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()


@pytest.mark.parametrize("transcript", TRANSCRIPTS)
def test_transcript_prints_what_it_shows(transcript):
    command, *expected = transcript.strip().splitlines()
    done = _qa(shlex.split(command[2:])[1:])
    assert done.returncode != 0
    assert (done.stdout + done.stderr).strip().splitlines() == expected


def test_library_example_runs(capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(PYTHON[0], "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("True\n[1] ")


def test_http_api_example_runs_against_the_app(tmp_path, capsys):
    port = free_port()
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "000_efff323ac530a1c5.txt").write_bytes((ROOT / "seeds" / "000_efff323ac530a1c5.txt").read_bytes())
    app = subprocess.Popen([sys.executable, "app.py", "--docs", str(docs), "--index", str(tmp_path / "index"),
                            "--port", str(port)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.time() + 120
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if time.time() > deadline or app.poll() is not None:
                    pytest.fail("the app did not start")
                time.sleep(0.5)
        code = next(c for c in PYTHON if "gradio_client" in c).replace("http://127.0.0.1:7860/", url)
        scope: dict = {}
        exec(compile(code, "README.md", "exec"), scope)
        assert "[1] Ecuador And Israel" in capsys.readouterr().out
        assert any("hostages" in h["text"] for h in scope["follow_up"]["hits"][:2])
    finally:
        app.terminate()
        app.wait(timeout=30)
