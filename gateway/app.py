"""The web application: `create_app(settings)` wires routes, the body limit and the runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from gateway import health
from gateway.config import Settings
from gateway.runtime import build_runtime


def create_app(settings: Settings) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.runtime = build_runtime(settings)
        try:
            yield
        finally:
            await app.state.runtime.aclose()

    return Starlette(
        debug=False,  # an unexpected error answers a bare 500 "Internal Server Error", no traceback
        routes=_routes(),
        lifespan=lifespan,
        # Starlette answers 413 "Content Too Large" (text/plain) past this many bytes.
        max_body_size=settings.app.max_body_bytes,
    )


def _routes() -> list[BaseRoute]:
    from gateway.open311 import routes as open311
    from gateway.staff import routes as staff
    from gateway.web import sms, ussd  # imported here: they pull in the flow engine and sessions

    return [*health.routes, *ussd.routes, *sms.routes, *open311.routes, *staff.routes]
