"""``consentry up``: the broker, the three services as separate processes, and a supervisor.

The supervisor starts the embedded broker (unless ``KAFKA_BOOTSTRAP_SERVERS`` is set), starts
ingest, rights and ledger with their logs in ``DATA_DIR/logs``, waits for each ``/health``,
restarts a service that dies (with exponential backoff, as a process supervisor would) and on
SIGINT or SIGTERM stops the services first (they finish their batch and commit) and the broker
last.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

SERVICES: tuple[tuple[str, int], ...] = (("ingest", 8701), ("rights", 8702), ("ledger", 8703))
_MAX_BACKOFF_S = 30.0


class StartupFailed(RuntimeError):
    """A service did not become healthy; the message holds the tail of its log."""


@dataclass
class ServiceProcess:
    name: str
    module: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    next_start: float = 0.0
    log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_file = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", self.module],
            env=self.env,
            stdout=self.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops us in order
        )

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log_file:
            self.log_file.close()

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/health", timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


class Supervisor:
    """Runs the services until :meth:`request_stop` (or a signal) and then stops them in order."""

    def __init__(
        self,
        data_dir: Path,
        bootstrap_servers: str,
        *,
        extra_env: dict[str, str] | None = None,
        instances: dict[str, int] | None = None,
        say: Callable[[str], None] = print,
    ) -> None:
        """``instances`` runs more than one process of a service (``{"rights": 2}``) in the same
        consumer group; instance ``i`` listens on the service's port + 10 * (i - 1)."""
        self.data_dir = data_dir
        self._say = say
        self._stop = threading.Event()
        env = dict(os.environ)
        env.update(extra_env or {})
        env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap_servers
        env["CONSENTRY_DATA_DIR"] = str(data_dir)
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.services = []
        for name, default_port in SERVICES:
            base = int(env.get(f"CONSENTRY_{name.upper()}_PORT", default_port))
            for instance in range(1, (instances or {}).get(name, 1) + 1):
                label = name if instance == 1 else f"{name}-{instance}"
                port = base + 10 * (instance - 1)
                service_env = dict(env)
                service_env[f"CONSENTRY_{name.upper()}_PORT"] = str(port)
                self.services.append(
                    ServiceProcess(
                        label, f"consentry_{name}", port, service_env, data_dir / "logs" / f"{label}.log"
                    )
                )

    def start_all(self, timeout: float = 90.0) -> None:
        """Start every service and wait until each answers ``/health`` with 200."""
        for service in self.services:
            service.start()
        deadline = time.monotonic() + timeout
        pending = list(self.services)
        while pending:
            for service in list(pending):
                if not service.alive():
                    raise StartupFailed(
                        f"{service.name} exited during start-up; its log ({service.log_path}):\n"
                        f"{service.log_tail()}"
                    )
                if healthy(service.url):
                    pending.remove(service)
            if pending and time.monotonic() > deadline:
                names = ", ".join(s.name for s in pending)
                raise StartupFailed(f"not healthy after {timeout:.0f}s: {names}\n{pending[0].log_tail()}")
            if pending:
                time.sleep(0.2)

    def request_stop(self, *_args: object) -> None:
        self._stop.set()

    def watch(self) -> None:
        """Restart services that die, with backoff, until a stop is requested."""
        while not self._stop.wait(0.5):
            now = time.monotonic()
            for service in self.services:
                if service.alive():
                    continue
                if service.next_start == 0.0:
                    code = service.process.returncode if service.process else None
                    delay = min(_MAX_BACKOFF_S, 2.0**service.restarts)
                    self._say(
                        f"{service.name} exited (code {code}); restarting in {delay:.0f}s "
                        f"(log: {service.log_path})"
                    )
                    service.next_start = now + delay
                elif now >= service.next_start:
                    service.restarts += 1
                    service.next_start = 0.0
                    if service.log_file:
                        service.log_file.close()
                    service.start()

    def stop_all(self) -> None:
        # Ingest first so nothing new enters, ledger last so it drains what rights sent.
        for service in self.services:
            service.stop()
