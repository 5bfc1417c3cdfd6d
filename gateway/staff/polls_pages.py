"""Polls and results: the poll list (status, public or private), a poll's live results, its
exports (CSV, FLOIP), and the public results page of a poll an admin made public.

Routes:
- GET  /staff/polls                           the list; admins also set status and visibility
- POST /staff/polls/{flow}/status             admin; field `status`: draft | live | closed
- POST /staff/polls/{flow}/public             admin; field `public`: "1" (public) | "0"
- GET  /staff/polls/{flow}                    results; `?fragment=1` is just the live section
                                              (what static/live.js swaps in); `?page=N` pages
                                              the comments
- GET  /staff/polls/{flow}/results.csv        one row per run, pseudonymised (audited)
- GET  /staff/polls/{flow}/results.floip.json a FLOIP Flow Results package (audited)
- GET  /public/polls/{flow}                   no login; 404 unless public; aggregates only
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.flows.model import Flow
from gateway.models import FlowRun
from gateway.staff.pages import SECURITY_HEADERS, Context, field, render, staff_page
from gateway.staff.results import exports, floip, store
from gateway.staff.results.comments import comment_page
from gateway.staff.results.labels import label_of
from gateway.staff.results.view import completion_rate, public_view, staff_view

if TYPE_CHECKING:
    from gateway.runtime import Runtime


@staff_page()
async def poll_list(request: Request, ctx: Context) -> Response:
    return await _list_page(request, ctx)


async def _list_page(request: Request, ctx: Context, status: int = 200,
                     error: str = "") -> Response:
    engine = ctx.runtime.engine
    counts = await run_in_threadpool(store.run_counts, engine)
    polls = await run_in_threadpool(store.polls, engine)
    rows = []
    for flow in poll_flows(ctx.runtime):
        ran = counts.get(flow.name, store.RunCounts())
        poll = polls.get(flow.name)
        rows.append({
            "name": flow.name, "title": label_of(flow, flow.title) or flow.name,
            "status": poll.status if poll else "draft", "public": bool(poll and poll.public),
            "started": ran.started, "completed": ran.completed,
            "completion": completion_rate(ran.started, ran.completed),
        })
    return render(request, "polls.html", status, polls=rows, statuses=store.STATUSES,
                  error=error)


@staff_page(role="admin")
async def set_status(request: Request, ctx: Context) -> Response:
    flow = _flow_or_404(ctx.runtime, request)
    status = field(ctx, "status")
    if status not in store.STATUSES:
        return await _list_page(request, ctx, 400, "Pick draft, live or closed.")
    await run_in_threadpool(store.set_status, ctx.runtime.engine, flow.name, status, ctx.actor)
    return RedirectResponse("/staff/polls", 303)


@staff_page(role="admin")
async def set_public(request: Request, ctx: Context) -> Response:
    flow = _flow_or_404(ctx.runtime, request)
    public = field(ctx, "public")
    if public not in ("0", "1"):
        return await _list_page(request, ctx, 400, "Choose public or private.")
    await run_in_threadpool(store.set_public, ctx.runtime.engine, flow.name, public == "1",
                            ctx.actor)
    return RedirectResponse("/staff/polls", 303)


@staff_page()
async def results(request: Request, ctx: Context) -> Response:
    flow = _flow_or_404(ctx.runtime, request)
    runs = await run_in_threadpool(store.runs, ctx.runtime.engine, flow.name)
    settings = ctx.runtime.settings.staff
    live = staff_view(flow, runs, small_group=settings.small_group,
                      language_names=_language_names(ctx.runtime, flow))
    as_of = datetime.now(UTC).strftime("%H:%M:%S")
    if request.query_params.get("fragment"):
        return render(request, "polls_live.html", results=live, small_group=settings.small_group,
                      as_of=as_of)
    poll = await run_in_threadpool(store.poll, ctx.runtime.engine, flow.name)
    page = _page_number(request.query_params.get("page"))
    return render(request, "polls_results.html", flow=flow.name,
                  title=label_of(flow, flow.title) or flow.name, poll=poll, results=live,
                  comments=comment_page(flow, runs, page), small_group=settings.small_group,
                  as_of=as_of, refresh_seconds=settings.live_refresh_seconds)


@staff_page()
async def results_csv(request: Request, ctx: Context) -> Response:
    flow = _flow_or_404(ctx.runtime, request)
    runs = await run_in_threadpool(store.runs, ctx.runtime.engine, flow.name)
    body = exports.results_csv(flow, runs)
    await _record_export(ctx, flow, "results.csv", runs)
    return _download(body, "text/csv; charset=utf-8", exports.filename(flow, "results.csv"))


@staff_page()
async def results_floip(request: Request, ctx: Context) -> Response:
    flow = _flow_or_404(ctx.runtime, request)
    runs = await run_in_threadpool(store.runs, ctx.runtime.engine, flow.name)
    body = json.dumps(floip.package(flow, runs), ensure_ascii=False, indent=1)
    await _record_export(ctx, flow, "results.floip.json", runs)
    return _download(body, "application/json",
                     exports.filename(flow, "results.floip.json"))


async def public_results(request: Request) -> Response:
    """No login: aggregates of a poll an admin made public, small groups hidden; else 404."""
    runtime: Runtime = request.app.state.runtime
    flow = _flow_or_404(runtime, request)
    poll = await run_in_threadpool(store.poll, runtime.engine, flow.name)
    if not poll.public:
        raise HTTPException(404)
    runs = await run_in_threadpool(store.runs, runtime.engine, flow.name)
    small_group = runtime.settings.staff.small_group
    return render(request, "public_poll.html", title=label_of(flow, flow.title) or flow.name,
                  results=public_view(flow, runs, small_group=small_group),
                  small_group=small_group)


def poll_flows(runtime: Runtime) -> list[Flow]:
    """Every flow that is a poll or survey: citizen report flows have their own inbox."""
    return [flow for flow in runtime.flows.values() if flow.kind != "report"]


def _flow_or_404(runtime: Runtime, request: Request) -> Flow:
    flow = runtime.flows.get(request.path_params["flow"])
    if flow is None or flow.kind == "report":
        raise HTTPException(404)
    return flow


def _language_names(runtime: Runtime, flow: Flow) -> dict[str, str]:
    return {code: runtime.texts.text("language_name", code) for code in flow.languages
            if runtime.texts.has("language_name", code)}


async def _record_export(ctx: Context, flow: Flow, what: str, runs: Sequence[FlowRun]) -> None:
    await run_in_threadpool(store.record_export, ctx.runtime.engine, flow.name, ctx.actor, what,
                            len(runs))


def _download(body: str, media_type: str, name: str) -> Response:
    headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(body, media_type=media_type, headers=headers)


def _page_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and len(text) < 6 else 0


routes: list[BaseRoute] = [
    Route("/staff/polls", poll_list, methods=["GET"]),
    Route("/staff/polls/{flow}/status", set_status, methods=["POST"]),
    Route("/staff/polls/{flow}/public", set_public, methods=["POST"]),
    Route("/staff/polls/{flow}", results, methods=["GET"]),
    Route("/staff/polls/{flow}/results.csv", results_csv, methods=["GET"]),
    Route("/staff/polls/{flow}/results.floip.json", results_floip, methods=["GET"]),
    Route("/public/polls/{flow}", public_results, methods=["GET"]),
]
