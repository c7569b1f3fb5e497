"""milvus-lite's gRPC server in a process of its own on 127.0.0.1, for tests and benchmarks.

``python -m milvus_lite server --data-dir DIR --host 127.0.0.1 --port PORT`` serves the same
protocol as Milvus Standalone. The server is started and stopped by its PID (SIGKILL for a
crash, SIGINT for milvus-lite's own clean shutdown), never by name.

>>> import tempfile
>>> with MilvusLiteServer(tempfile.mkdtemp()) as server:  # doctest: +SKIP
...     print(server.spec)
milvus://127.0.0.1:...
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MilvusLiteServer:
    """One milvus-lite server over ``data_dir``; ``start`` again after ``kill`` reuses port and data."""

    def __init__(self, data_dir: str | Path, port: int | None = None):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.process: subprocess.Popen | None = None
        self.log = self.data_dir.parent / f"{self.data_dir.name}.server.log"

    @property
    def spec(self) -> str:
        return f"milvus://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def start(self, timeout: float = 60) -> "MilvusLiteServer":
        """Start the server and wait until it accepts connections (it opens its data first)."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError(f"the milvus-lite server (pid {self.pid}) is already running")
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "milvus_lite", "server", "--data-dir", str(self.data_dir),
                 "--host", "127.0.0.1", "--port", str(self.port)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the milvus-lite server exited with {self.process.returncode}; see {self.log}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"the milvus-lite server did not listen on port {self.port} within {timeout:.0f} s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL: a crash, no chance to flush or unlock anything."""
        self._signal(signal.SIGKILL, 10)

    def stop(self) -> None:
        """A clean stop: SIGINT (milvus-lite drains requests and closes its data), SIGKILL after 10 s."""
        if not self._signal(signal.SIGINT, 10):
            self.kill()

    def _signal(self, signum: int, wait: float) -> bool:
        process = self.process
        if process is None or process.poll() is not None:
            return True
        try:
            os.kill(process.pid, signum)
        except ProcessLookupError:
            return True
        try:
            process.wait(wait)
            return True
        except subprocess.TimeoutExpired:
            return False

    def __enter__(self) -> "MilvusLiteServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
