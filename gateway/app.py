"""The web application: `create_app(settings)` wires routes, the body limit and the runtime."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from gateway import health
from gateway.config import Settings
from gateway.hop_redis import HopRedis
from gateway.hop_redis import supports as hop_redis_supports
from gateway.runtime import build_runtime


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.runtime = build_runtime(settings)
        _freeze_startup_objects()
        # the USSD hop's own lean client (gateway.hop_redis); None: the runtime's redis-py
        url = settings.redis_url
        app.state.hop_redis = HopRedis(url) if url and hop_redis_supports(url) else None
        try:
            yield
        finally:
            if app.state.hop_redis is not None:
                await app.state.hop_redis.aclose()
            await app.state.runtime.aclose()

    return Starlette(
        debug=False,  # an unexpected error answers a bare 500 "Internal Server Error", no traceback
        routes=_routes(),
        lifespan=lifespan,
        # Starlette answers 413 "Content Too Large" (text/plain) past this many bytes.
        max_body_size=settings.app.max_body_bytes,
    )


def _freeze_startup_objects() -> None:
    """Flows, texts, areas and modules live as long as the process: take them out of the
    cyclic garbage collector's passes, which then walk only what requests create (`gc.freeze`;
    under USSD load the collector's share of the web process's CPU fell from 5% to 2%).
    Once per process: tests start many apps."""
    if gc.get_freeze_count() == 0:
        gc.collect()
        gc.freeze()


def _routes() -> list[BaseRoute]:
    from gateway.open311 import routes as open311
    from gateway.staff import routes as staff
    from gateway.web import sms, ussd  # imported here: they pull in the flow engine and sessions

    return [*health.routes, *ussd.routes, *sms.routes, *open311.routes, *staff.routes]
