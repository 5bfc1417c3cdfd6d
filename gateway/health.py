"""Health and metrics endpoints for load balancers and Prometheus.

/healthz checks Redis and the database concurrently, each under a short deadline, so it answers
in well under a second even when a dependency hangs instead of refusing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway import db, metrics

CHECK_TIMEOUT = 0.5


async def healthz(request: Request) -> JSONResponse:
    runtime = request.app.state.runtime
    redis_state, database_state = await asyncio.gather(
        _probe(runtime.redis.ping()), _probe(asyncio.to_thread(db.check, runtime.engine))
    )
    body = {"redis": redis_state, "database": database_state}
    healthy = all(state == "ok" for state in body.values())
    return JSONResponse(body, status_code=200 if healthy else 503)


async def metrics_text(request: Request) -> Response:
    body = generate_latest(metrics.REGISTRY)
    return Response(body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _probe(check: Awaitable[object]) -> str:
    try:
        await asyncio.wait_for(check, CHECK_TIMEOUT)
    except TimeoutError:
        return f"down: no answer within {CHECK_TIMEOUT:g} s"
    except Exception as error:  # any failure means "down"; say which, briefly
        return f"down: {_reason(error)}"
    return "ok"


def _reason(error: Exception) -> str:
    cause = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error
    first_line = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    reason = f"{type(cause).__name__}: {first_line}" if first_line else type(cause).__name__
    return reason[:160]


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/metrics", metrics_text, methods=["GET"]),
]
