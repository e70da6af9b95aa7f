"""Where the integration tests find Apache Kafka and PostgreSQL.

Each is resolved once per session, first match wins:

1. ``KAFKA_BOOTSTRAP_SERVERS`` / ``DATABASE_URL`` from the environment (they must answer);
2. testcontainers (``KafkaContainer``, ``PostgresContainer``) when a Docker daemon answers a ping
   within two seconds; the containers are stopped at the end of the session;
3. the local Apache Kafka / embedded PostgreSQL of ``deploy/local/infra.py``: reused when its
   ``deploy/local/.state/env`` names one that answers, else started (and left running for the
   next session; ``make infra-down`` stops them).

``CONSENTRY_TEST_INFRA=testcontainers`` or ``=local`` skips the other of steps 2 and 3.

Failures raise :class:`InfraUnavailable`; conftest turns it into a skip on a workstation and a
failure in CI (``CI=true``), and always into a failure when the environment named a service that
does not answer.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parents[1]
LOCAL_INFRA = REPO / "deploy" / "local" / "infra.py"
LOCAL_ENV = REPO / "deploy" / "local" / ".state" / "env"

KAFKA_IMAGE = "confluentinc/cp-kafka:7.6.0"
POSTGRES_IMAGE = "postgres:17-alpine"
LOCAL_START_TIMEOUT_S = 600  # the first start fetches the Kafka jars from Maven Central


class InfraUnavailable(Exception):
    """No broker or database could be had; ``misconfigured`` means the environment named one
    that does not answer, which is never a reason to skip."""

    def __init__(self, message: str, *, misconfigured: bool = False) -> None:
        super().__init__(message)
        self.misconfigured = misconfigured


@dataclass(frozen=True)
class Endpoint:
    """A resolved service: what clients use (``value``) and where it came from (``source``)."""

    value: str
    source: str


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


# ---------------------------------------------------------------------------------- liveness


def kafka_answers(bootstrap: str) -> bool:
    """Whether the first bootstrap server answers a Kafka Metadata request listing a broker."""
    from consentry.embedded import kafka_broker_count

    first = bootstrap.split(",", maxsplit=1)[0].strip()
    try:
        return kafka_broker_count(first, timeout=3.0) > 0
    except (OSError, ValueError):
        return False


def postgres_answers(url: str) -> bool:
    """Whether the URL's host:port accepts a TCP connection (socket URLs are taken on trust)."""
    parts = urlsplit(url)
    if not parts.hostname:
        return True
    try:
        with socket.create_connection((parts.hostname, parts.port or 5432), timeout=3.0):
            return True
    except OSError:
        return False


def docker_answers(timeout: float = 2.0) -> bool:
    """Whether a Docker daemon answers a ping; never hangs longer than ``timeout``."""
    try:
        import docker
    except ImportError:
        return False
    try:
        client = docker.from_env(timeout=timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except Exception:
        return False


def normalise_database_url(url: str) -> str:
    """``postgresql://`` whatever the driver spelling (``postgres://``, ``postgresql+asyncpg://``)."""
    scheme, rest = url.split("://", 1)
    if scheme.split("+")[0] not in {"postgres", "postgresql"}:
        raise InfraUnavailable(f"DATABASE_URL is not PostgreSQL: {url}", misconfigured=True)
    return f"postgresql://{rest}"


def with_database(url: str, database: str) -> str:
    """The same server and credentials, another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


# -------------------------------------------------------------------------------- resolution


def _choices() -> tuple[bool, bool]:
    forced = os.environ.get("CONSENTRY_TEST_INFRA", "").strip().lower()
    if forced not in {"", "testcontainers", "local"}:
        raise InfraUnavailable(
            f"CONSENTRY_TEST_INFRA={forced!r}: use 'testcontainers' or 'local'", misconfigured=True
        )
    return forced in {"", "testcontainers"}, forced in {"", "local"}


def resolve_kafka(stack: ExitStack) -> Endpoint:
    from_env = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "").strip()
    if from_env:
        if not kafka_answers(from_env):
            raise InfraUnavailable(
                f"KAFKA_BOOTSTRAP_SERVERS={from_env} does not answer a Kafka metadata request",
                misconfigured=True,
            )
        return Endpoint(from_env, "env")
    use_containers, use_local = _choices()
    if use_containers and docker_answers():
        from testcontainers.community.kafka import KafkaContainer

        container = KafkaContainer(KAFKA_IMAGE).with_kraft().with_env("KAFKA_NUM_PARTITIONS", "3")
        stack.enter_context(container)
        return Endpoint(container.get_bootstrap_server(), "testcontainers")
    if use_local:
        return Endpoint(_local("kafka", "KAFKA_BOOTSTRAP_SERVERS", kafka_answers), "local")
    raise InfraUnavailable("CONSENTRY_TEST_INFRA=testcontainers but no Docker daemon answers")


def resolve_postgres(stack: ExitStack) -> Endpoint:
    from_env = os.environ.get("DATABASE_URL", "").strip()
    if from_env:
        url = normalise_database_url(from_env)
        if not postgres_answers(url):
            raise InfraUnavailable(f"DATABASE_URL={from_env} does not answer", misconfigured=True)
        return Endpoint(url, "env")
    use_containers, use_local = _choices()
    if use_containers and docker_answers():
        from testcontainers.community.postgres import PostgresContainer

        container = PostgresContainer(POSTGRES_IMAGE, driver=None)
        stack.enter_context(container)
        return Endpoint(container.get_connection_url(), "testcontainers")
    if use_local:
        return Endpoint(_local("postgres", "DATABASE_URL", postgres_answers), "local")
    raise InfraUnavailable("CONSENTRY_TEST_INFRA=testcontainers but no Docker daemon answers")


def read_local_env() -> dict[str, str]:
    """The ``export KEY=value`` lines of ``deploy/local/.state/env``."""
    if not LOCAL_ENV.exists():
        return {}
    found: dict[str, str] = {}
    for line in LOCAL_ENV.read_text().splitlines():
        key, sep, value = line.removeprefix("export ").partition("=")
        if sep and not key.startswith("#"):
            found[key.strip()] = value.strip()
    return found


def _local(service: str, variable: str, answers: Callable[[str], bool]) -> str:
    value = read_local_env().get(variable)
    if value and answers(value):
        return value
    try:
        result = subprocess.run(
            [sys.executable, str(LOCAL_INFRA), service, "start"],
            capture_output=True,
            text=True,
            timeout=LOCAL_START_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise InfraUnavailable(f"deploy/local/infra.py {service} start: {error}") from None
    value = read_local_env().get(variable)
    if result.returncode != 0 or not value:
        raise InfraUnavailable(
            f"deploy/local/infra.py {service} start failed (exit {result.returncode}):\n"
            f"{result.stdout}\n{result.stderr}"
        )
    return value
