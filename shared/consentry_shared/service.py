"""Running a service process: structured logs and a uvicorn server with a clean shutdown."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

import uvicorn
from fastapi import FastAPI
from opentelemetry import trace

__all__ = ["JsonLogFormatter", "configure_logging", "serve"]


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line, with the current trace and span ids when there is a span."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        ctx = trace.get_current_span().get_span_context()
        if ctx.is_valid:
            entry["trace_id"] = f"{ctx.trace_id:032x}"
            entry["span_id"] = f"{ctx.span_id:016x}"
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """JSON lines on stderr for the service; chatty libraries are kept at WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "uvicorn.access", "faststream", "sqlalchemy", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def serve(app: FastAPI, *, host: str, port: int) -> None:
    """Serve ``app`` until SIGINT/SIGTERM; the app's lifespan stops consumers and flushes."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(config).run()
