"""The operational HTTP endpoints every service serves: ``/health``, ``/ready``, ``/metrics``.

``/health`` answers 200 while the process runs its event loop (liveness). ``/ready`` answers 200
only when every readiness check passes — the broker answers, the database answers, the consumer
has partitions — and 503 naming the failing checks otherwise. ``/metrics`` is the Prometheus text
format, after running the service's scrape hooks (lag, checkpoint age).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from fastapi import APIRouter, Response

from consentry_shared.metrics import CONTENT_TYPE_LATEST, ScrapeHook, render

Check = Callable[[], Awaitable[str | None]]
"""A readiness check: returns None when fine, else what is wrong."""

_CHECK_TIMEOUT_S = 3.0


def ops_router(
    service: str,
    *,
    checks: Mapping[str, Check],
    scrape_hooks: Sequence[ScrapeHook] = (),
    details: Callable[[], Awaitable[dict[str, Any]]] | None = None,
) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health", summary="Liveness: the process is up")
    async def health() -> dict[str, Any]:
        body: dict[str, Any] = {"status": "ok", "service": service}
        if details is not None:
            body.update(await details())
        return body

    @router.get(
        "/ready",
        summary="Readiness: broker and database reachable, consumer assigned",
        responses={503: {"description": "Not ready; `checks` names what failed"}},
    )
    async def ready(response: Response) -> dict[str, Any]:
        results = await asyncio.gather(*(_run(check) for check in checks.values()))
        outcome = dict(zip(checks, results, strict=True))
        ok = all(result is None for result in results)
        response.status_code = 200 if ok else 503
        return {
            "status": "ready" if ok else "not-ready",
            "service": service,
            "checks": {name: result or "ok" for name, result in outcome.items()},
        }

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        for hook in scrape_hooks:
            with contextlib.suppress(Exception):  # a slow or absent broker must not break the scrape
                await asyncio.wait_for(hook(), _CHECK_TIMEOUT_S)
        return Response(render(), media_type=CONTENT_TYPE_LATEST)

    return router


async def _run(check: Check) -> str | None:
    try:
        return await asyncio.wait_for(check(), _CHECK_TIMEOUT_S)
    except TimeoutError:
        return f"no answer within {_CHECK_TIMEOUT_S:.0f}s"
    except Exception as error:
        return f"{type(error).__name__}: {error}"


def broker_check(broker: Any) -> Check:
    """Ready when the Kafka broker answers a ping."""

    async def check() -> str | None:
        return None if await broker.ping(timeout=_CHECK_TIMEOUT_S) else "Kafka does not answer"

    return check


def consumer_check(subscriber: Any) -> Check:
    """Ready when the subscriber's consumer has joined its group and holds partitions."""

    async def check() -> str | None:
        consumer = getattr(subscriber, "consumer", None)
        if consumer is None:
            return "consumer not started"
        return None if consumer.assignment() else "no partitions assigned (yet)"

    return check


def database_check(engine: Any) -> Check:
    """Ready when the database answers ``SELECT 1``."""
    from sqlalchemy import text

    async def check() -> str | None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return None

    return check


def asyncapi_router(broker: Any, title: str) -> APIRouter:
    """``GET /asyncapi``: the AsyncAPI 3 document FastStream builds from the broker's subscribers
    and publishers (topics, message contracts)."""
    from faststream.specification import AsyncAPI

    router = APIRouter(tags=["operations"])

    @router.get("/asyncapi", summary="The AsyncAPI document of this service's Kafka interface")
    async def asyncapi() -> Response:
        spec = AsyncAPI(broker, title=title, version="1", schema_version="3.0.0")
        return Response(spec.to_specification().to_json(), media_type="application/json")

    return router
