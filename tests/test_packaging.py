"""Packaging: the wheel holds every subpackage, so the README's library example runs from it alone."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def readme_library_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.search(r"## The Python library\s+```python\n(.*?)```", text, re.S).group(1)


@pytest.mark.slow
def test_the_wheel_installs_into_a_clean_venv_and_runs_the_readme_example(tmp_path):
    pytest.importorskip("setuptools")
    wheels = tmp_path / "wheels"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(ROOT)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    wheel = next(wheels.glob("qa-*.whl"))
    env_dir = tmp_path / "clean"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    installed = subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
                               capture_output=True, text=True, timeout=300)
    assert installed.returncode == 0, installed.stderr
    # The clean venv has qa from the wheel and nothing else; its dependencies come from this
    # venv's site-packages, placed after it, and the source tree is not on the path at all.
    work = tmp_path / "work"
    work.mkdir()
    (work / "seeds").symlink_to(ROOT / "seeds")
    env = {**os.environ, "PYTHONPATH": sysconfig.get_paths()["purelib"], "HF_HUB_OFFLINE": "1"}
    code = "import qa, sys; assert 'site-packages' in qa.__file__ and str(sys.argv[1]) not in qa.__file__, qa.__file__\n" \
        + "from qa.ranking import Fusion; Fusion.learned()  # its models are package data\n" \
        + readme_library_example()
    ran = subprocess.run([str(python), "-c", code, str(ROOT)], cwd=work, env=env, capture_output=True, text=True, timeout=600)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "Noboa" in ran.stdout
