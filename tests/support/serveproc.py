"""``hedgestack serve`` as a process of its own, in a session of its own (``start_new_session``), so its process
group holds exactly the processes it started: "nothing left running" is ``killpg(group, 0)`` failing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import requests

from tests.support.simctl import wait_until

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Serve:
    """``hedgestack serve`` in a session of its own; its output is kept."""

    def __init__(self, args: list[str], port: int | None = None, env: dict[str, str] | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("HEDGESTACK_", "BINANCE_"))}
        self.proc = subprocess.Popen([sys.executable, "-m", "hedgestack.cli", "serve", "--port", str(self.port),
                                      *args], cwd=ROOT, env={**base, **(env or {})}, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, start_new_session=True)
        self.group = self.proc.pid
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [threading.Thread(target=self._read, args=(self.proc.stdout, self.out), daemon=True),
                         threading.Thread(target=self._read, args=(self.proc.stderr, self.err), daemon=True)]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: Any, into: list[str]) -> None:
        for line in stream:
            into.append(line.rstrip("\n"))

    def health(self, token: str | None = None) -> tuple[int, dict[str, Any]] | None:
        try:
            resp = requests.get(self.url + "/v1/health", timeout=5,
                                headers={"Authorization": f"Bearer {token}"} if token else {})
        except requests.RequestException:
            return None
        return resp.status_code, resp.json()

    def wait_live(self, timeout: float = 90, token: str | None = None) -> dict[str, Any]:
        def live() -> Any:
            assert self.proc.poll() is None, f"serve exited {self.proc.returncode}: {self.err[-5:]}"
            got = self.health(token)
            return got is not None and got[0] == 200 and got[1]["dashboard"]["state"] == "up" and got[1]
        return wait_until(live, timeout=timeout, interval=0.2)

    def members(self) -> list[int]:
        """PIDs still in serve's process group."""
        out = subprocess.run(["ps", "-o", "pid=", "-g", str(self.group)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def children(self) -> list[int]:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)], capture_output=True,
                             text=True).stdout
        return [int(p) for p in out.split()]

    def gone(self) -> bool:
        self.proc.poll()  # reap serve itself (a zombie still counts as a member of its group)
        try:
            os.killpg(self.group, 0)
        except ProcessLookupError:
            return True
        return False

    def stop(self) -> None:
        if not self.gone():
            with_suppress(lambda: os.killpg(self.group, signal.SIGKILL))
        self.proc.wait(10)


def with_suppress(fn: Any) -> None:
    try:
        fn()
    except ProcessLookupError:
        pass
