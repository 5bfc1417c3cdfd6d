"""The Open311 GeoReport v2 endpoints, mounted at /open311/v2/.

Every answer is in the format the path names (`.json` or `.xml`); an unknown format is a 404.
Errors are the spec's error list with the HTTP status in each `code`. Database work runs in a
thread; the database being down answers 503 in the same error format.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.channels.base import BadRequest
from gateway.open311 import services as catalogue
from gateway.open311 import store, updates
from gateway.open311.errors import Open311Error, bad_request, not_found
from gateway.open311.formats import FORMATS, render, render_error, render_one
from gateway.open311.queries import parse_query
from gateway.web.ussd import read_form

if TYPE_CHECKING:
    from gateway.runtime import Runtime

log = logging.getLogger(__name__)

PREFIX = "/open311/v2"
Handler = Callable[[Request, str], Awaitable[Response]]


def _answer(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """Check the format, run the handler, turn Open311Error (and a down database) into errors."""

    async def endpoint(request: Request) -> Response:
        fmt = request.path_params.get("format", "")
        try:
            if fmt not in FORMATS:
                raise not_found("the format must be json or xml")
            _refuse_nul([*request.path_params.values(), *request.query_params.multi_items()])
            return await handler(request, fmt)
        except Open311Error as error:
            return render_error(fmt, error)
        except SQLAlchemyError as error:
            log.warning("open311: database unavailable: %s", type(error).__name__)
            return render_error(fmt, Open311Error(503, "the database is unavailable, retry later"))

    return endpoint


async def list_services(request: Request, fmt: str) -> Response:
    runtime: Runtime = request.app.state.runtime
    found = catalogue.services(runtime.flows)
    return render(fmt, "services", [catalogue.service_record(service) for service in found])


async def service_definition(request: Request, fmt: str) -> Response:
    runtime: Runtime = request.app.state.runtime
    service = catalogue.find_service(runtime.flows, request.path_params["service_code"])
    return render_one(fmt, "service_definition", catalogue.definition_record(service))


async def service_requests(request: Request, fmt: str) -> Response:
    if request.method == "POST":
        return await _create(request, fmt)
    runtime: Runtime = request.app.state.runtime
    query = parse_query(request.query_params, now=datetime.now(UTC))
    records = await run_in_threadpool(store.request_records, runtime, query)
    return render(fmt, "service_requests", records)


async def one_request(request: Request, fmt: str) -> Response:
    runtime: Runtime = request.app.state.runtime
    reference = request.path_params["service_request_id"]
    records = await run_in_threadpool(store.request_records_by_id, runtime, [reference])
    if not records:
        raise not_found(f"no service request {reference!r}")
    return render(fmt, "service_requests", records)


async def _create(request: Request, fmt: str) -> Response:
    runtime: Runtime = request.app.state.runtime
    form = await _form(request, runtime)
    created = await run_in_threadpool(store.create_request, runtime, form)
    return render(fmt, "service_requests", [created])


async def request_update(request: Request, fmt: str) -> Response:
    runtime: Runtime = request.app.state.runtime
    form = await _form(request, runtime)
    done = await run_in_threadpool(updates.post_update, runtime, form)
    return render(fmt, "service_request_updates", [done])


async def _form(request: Request, runtime: Runtime) -> dict[str, str]:
    """The query string and the form body, or the spec's error; no api_key is a 403."""
    try:
        form = dict(request.query_params) | await read_form(
            request, runtime.settings.app.max_body_bytes
        )
    except BadRequest as error:
        raise Open311Error(error.status, str(error)) from None
    _refuse_nul(form.items())
    if not form.get("api_key", "").strip():
        raise Open311Error(403, "api_key is required")
    return form


def _refuse_nul(values: Iterable[str | tuple[str, str]]) -> None:
    """No NUL character in a name or value: PostgreSQL refuses it in text (the spec's 400)."""
    for value in values:
        if "\x00" in (value if isinstance(value, str) else "".join(value)):
            raise bad_request("NUL characters are not allowed")


routes = [
    Route(f"{PREFIX}/services.{{format}}", _answer(list_services), methods=["GET"]),
    Route(
        f"{PREFIX}/services/{{service_code}}.{{format}}",
        _answer(service_definition),
        methods=["GET"],
    ),
    Route(f"{PREFIX}/requests.{{format}}", _answer(service_requests), methods=["GET", "POST"]),
    Route(
        f"{PREFIX}/requests/{{service_request_id}}.{{format}}",
        _answer(one_request),
        methods=["GET"],
    ),
    Route(
        f"{PREFIX}/servicerequestupdates.{{format}}", _answer(request_update), methods=["POST"]
    ),
]
