"""Running the whole product for end-to-end tests: three service processes (and a broker)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from consentry.client import ConsentryClient, Urls

REPO = Path(__file__).resolve().parents[2]
CONSENTRY = Path(sys.executable).parent / "consentry"
SAMPLES = REPO / "cli" / "consentry" / "samples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def consentry_up(
    data_dir: Path, env_overrides: dict[str, str]
) -> Iterator[tuple[ConsentryClient, subprocess.Popen[bytes]]]:
    """Run `consentry up` as a user would, on free ports; yield a client bound to it."""
    ports = {name: free_port() for name in ("ingest", "rights", "ledger")}
    env = {k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}
    env.update({f"CONSENTRY_{n.upper()}_PORT": str(p) for n, p in ports.items()})
    env.update(env_overrides)
    log = (data_dir / "up.log").open("wb")
    process = subprocess.Popen(
        [str(CONSENTRY), "up", "--data-dir", str(data_dir)], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    urls = Urls(*(f"http://127.0.0.1:{ports[n]}" for n in ("ingest", "rights", "ledger")))
    client = ConsentryClient(urls, timeout=120)
    try:
        deadline = time.monotonic() + 120
        ready = data_dir / "endpoints.env"  # written once every service is healthy
        while not (ready.exists() and all(client.health(u) for u in (urls.ingest, urls.rights, urls.ledger))):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("consentry up did not come up:\n" + _tail(data_dir))
            time.sleep(0.3)
        client.close()  # the health checks need no token; everything else does
        client = ConsentryClient(urls, timeout=120, token=credentials(data_dir)["CONSENTRY_TOKEN"])
        yield client, process
    finally:
        client.close()
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def credentials(data_dir: Path) -> dict[str, str]:
    """What `consentry up` wrote to DATA_DIR/credentials.env at its first start."""
    found = {}
    for line in (data_dir / "credentials.env").read_text().splitlines():
        name, sep, value = line.partition("=")
        if sep and not name.startswith("#"):
            found[name] = value
    return found


def _tail(data_dir: Path) -> str:
    parts = []
    for path in [data_dir / "up.log", *sorted((data_dir / "logs").glob("*.log"))]:
        if path.exists():
            lines = path.read_text(errors="replace").splitlines()[-25:]
            parts.append(f"--- {path.name}\n" + "\n".join(lines))
    return "\n".join(parts)


def cli(*args: str, env: dict[str, str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run the `consentry` CLI and capture its output."""
    return subprocess.run(
        [str(CONSENTRY), *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
        check=False,
    )


def client_env(client: ConsentryClient) -> dict[str, str]:
    return {
        "CONSENTRY_INGEST_URL": client.urls.ingest,
        "CONSENTRY_RIGHTS_URL": client.urls.rights,
        "CONSENTRY_LEDGER_URL": client.urls.ledger,
        "CONSENTRY_TOKEN": client.token or "",
    }
