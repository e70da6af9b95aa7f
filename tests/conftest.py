"""Session-wide real infrastructure for the integration and end-to-end tests.

``kafka_bootstrap`` and ``database_url`` are resolved lazily, once per session, as ``tests/infra.py``
describes (environment, then testcontainers, then ``deploy/local/infra.py``): unit and service tests
that do not ask for them never touch Kafka or PostgreSQL. When neither can be had the test is
skipped on a workstation and fails in CI (``CI=true``): an integration suite must not pass by
skipping.

Per test: ``topic_prefix`` (prepend it to every topic and consumer group the test creates) and
``fresh_database_url`` (an empty database of its own, dropped afterwards); per module:
``module_database_url``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from typing import NoReturn

import pytest

if __package__:  # tests/ is a package
    from . import infra
else:  # rootdir-relative conftest: tests/ itself is on sys.path
    import infra  # type: ignore[no-redef]


def _unavailable(what: str, error: infra.InfraUnavailable) -> NoReturn:
    message = f"{what}: {error}"
    if error.misconfigured:
        pytest.fail(message, pytrace=False)
    if infra.in_ci():
        pytest.fail(f"{message}\n(CI=true: integration tests fail rather than skip)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def _infra_stack() -> Iterator[ExitStack]:
    """Holds the testcontainers started this session; they stop when it closes."""
    with ExitStack() as stack:
        yield stack


@pytest.fixture(scope="session")
def kafka_bootstrap(_infra_stack: ExitStack) -> Iterator[str]:
    """``host:port`` of a real Apache Kafka broker (auto-create on, 3 partitions by default).

    At the end of the session the topics the tests made are deleted: a broker left holding
    thousands of partitions run after run spends a core on them (the pipeline benchmark measured
    35% slower on one)."""
    try:
        bootstrap = infra.resolve_kafka(_infra_stack).value
    except infra.InfraUnavailable as error:
        _unavailable("no Apache Kafka for integration tests", error)
    yield bootstrap
    _delete_test_topics(bootstrap)


# Every prefix a test builds its topics on (``topic_prefix`` and the tests' own); never a name a
# deployment or a benchmark on the same broker would use.
_TEST_TOPIC_PREFIXES = ("test-", "trace-", "res-", "replay-", "pub-", "ops-", "e2e-", "cfg-")


def _delete_test_topics(bootstrap: str) -> None:
    from consentry_shared.kafka import delete_topics

    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(lambda: asyncio.run(delete_topics(bootstrap, prefix=_TEST_TOPIC_PREFIXES))).result(
            timeout=120
        )


@pytest.fixture(scope="session")
def database_url(_infra_stack: ExitStack) -> str:
    """``postgresql://`` URL of a real PostgreSQL database shared by the session."""
    try:
        return infra.resolve_postgres(_infra_stack).value
    except infra.InfraUnavailable as error:
        _unavailable("no PostgreSQL for integration tests", error)


@pytest.fixture
def topic_prefix() -> str:
    """A prefix unique to this test, such as ``test-1f2e3d4c5b6a.``: topics and groups built on it
    never see another test's records, so tests need no cleanup and can share a broker."""
    return f"test-{uuid.uuid4().hex[:12]}."


@pytest.fixture
def fresh_database_url(database_url: str) -> Iterator[str]:
    """A ``postgresql://`` URL to a new, empty database, dropped (connections and all) after the
    test. A plain fixture, so sync and async tests and fixtures alike can ask for it, also through
    ``request.getfixturevalue``."""
    with _fresh_database(database_url) as url:
        yield url


@pytest.fixture(scope="module")
def module_database_url(database_url: str) -> Iterator[str]:
    """As ``fresh_database_url``, shared by the tests of one module (for a stack started once)."""
    with _fresh_database(database_url) as url:
        yield url


@contextmanager
def _fresh_database(database_url: str) -> Iterator[str]:
    name = f"t_{uuid.uuid4().hex}"
    _run_sql(database_url, f'CREATE DATABASE "{name}"')
    try:
        yield infra.with_database(database_url, name)
    finally:
        _run_sql(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run_sql(database_url: str, statement: str) -> None:
    """Run one statement on its own connection and event loop, in a worker thread: the caller may
    be inside the session's running loop (an async fixture), where it could not wait on it."""
    import asyncpg

    async def run() -> None:
        connection = await asyncpg.connect(database_url)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    with ThreadPoolExecutor(max_workers=1) as worker:
        worker.submit(lambda: asyncio.run(run())).result(timeout=120)
