"""Launching a poll (admins): audience and invite, preview, confirm; then the progress page.

    GET  /staff/polls/{flow}/launch            the form
    POST /staff/polls/{flow}/launch/preview    figures; a confirm form with a one-time token
    POST /staff/polls/{flow}/launch/confirm    the Broadcast; 303 to its progress page
    GET  /staff/broadcasts/{id}                progress (both roles), cancel (admins)
    GET  /staff/broadcasts/{id}/progress.json  what progress.js polls
    POST /staff/broadcasts/{id}/cancel         queued invites are never sent

The preview and confirm routes accept bodies up to LAUNCH_BODY_BYTES: a CSV of thousands of
numbers is larger than the app's `app.max_body_bytes`, and Starlette lets a route's own
`max_body_size` replace the application's limit for that route only.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.broadcasts import form as launch_form
from gateway.broadcasts import launch, progress
from gateway.broadcasts.figures import Figures, figures
from gateway.broadcasts.invite import suggested_invite
from gateway.broadcasts.selection import known_tags, known_wards, select_audience
from gateway.models import Broadcast
from gateway.staff import audit
from gateway.staff.pages import SECURITY_HEADERS, Context, field, render, staff_page

LAUNCH_BODY_BYTES = 4 * 1024 * 1024  # ~250,000 numbers in a CSV
TOKEN_TTL_SECONDS = 86400  # a preview can be confirmed within a day
REFRESH_MS = 2000  # progress.js polls this often


def _token_key(token: str) -> str:
    return f"gw:staff:launch-token:{token}"


@staff_page(role="admin")
async def launch_page(request: Request, ctx: Context) -> Response:
    flow = _flow(request, ctx)
    if flow is None:
        return render(request, "forbidden.html", 404, reason="There is no such flow.")
    text = suggested_invite(ctx.runtime.settings, flow, ctx.runtime.flows[flow].title)
    values = launch_form.LaunchFields(text=text)
    return await _form(request, ctx, flow, values, [], [])


@staff_page(role="admin")
async def preview(request: Request, ctx: Context) -> Response:
    flow = _flow(request, ctx)
    if flow is None:
        return render(request, "forbidden.html", 404, reason="There is no such flow.")
    fields, reading = await _read(ctx)
    if reading.problems:
        return await _form(request, ctx, flow, fields, reading.problems, reading.listed.errors)
    shown = await run_in_threadpool(_figures, ctx, flow, reading)
    token = secrets.token_urlsafe(24)
    await ctx.runtime.redis.set(_token_key(token), ctx.actor, ex=TOKEN_TTL_SECONDS)
    return _preview(request, ctx, flow, fields, reading, shown, token, [])


@staff_page(role="admin")
async def confirm(request: Request, ctx: Context) -> Response:
    flow = _flow(request, ctx)
    if flow is None:
        return render(request, "forbidden.html", 404, reason="There is no such flow.")
    token = field(ctx, "token")
    earlier = await run_in_threadpool(_find, ctx, token)
    if earlier is not None:  # the button pressed twice: the first press's broadcast
        return RedirectResponse(f"/staff/broadcasts/{earlier}", 303)
    fields, reading = await _read(ctx)
    if reading.problems:
        return await _form(request, ctx, flow, fields, reading.problems, reading.listed.errors)
    known = bool(token) and await ctx.runtime.redis.get(_token_key(token)) == ctx.actor.encode()
    shown = await run_in_threadpool(_figures, ctx, flow, reading)
    problem = _refusal(ctx, shown, bool(known))
    if problem:
        token = secrets.token_urlsafe(24) if not known else token
        await ctx.runtime.redis.set(_token_key(token), ctx.actor, ex=TOKEN_TTL_SECONDS)
        return _preview(request, ctx, flow, fields, reading, shown, token, [problem], 409)
    draft = launch.Draft(flow, reading.text, reading.audience, token, reading.send_at)
    broadcast_id = await run_in_threadpool(_launch, ctx, draft)
    return RedirectResponse(f"/staff/broadcasts/{broadcast_id}", 303)


@staff_page()
async def broadcast_page(request: Request, ctx: Context) -> Response:
    found = await run_in_threadpool(_progress, ctx, request.path_params["broadcast_id"])
    if found is None:
        return render(request, "forbidden.html", 404, reason="There is no such broadcast.")
    broadcast, now = found
    cancelled = request.query_params.get("cancelled")
    return render(request, "broadcast.html", broadcast=broadcast, progress=now,
                  refresh_ms=REFRESH_MS, can_cancel=ctx.staff.is_admin and not now.finished,
                  cancelled=int(cancelled) if cancelled and cancelled.isdigit() else None,
                  scheduled_for=launch_form.local_value(broadcast.scheduled_for, _zone(ctx)),
                  time_zone=_zone(ctx).key)


@staff_page()
async def progress_json(request: Request, ctx: Context) -> Response:
    found = await run_in_threadpool(_progress, ctx, request.path_params["broadcast_id"])
    if found is None:
        return JSONResponse({"error": "no such broadcast"}, 404, headers=SECURITY_HEADERS)
    return JSONResponse(found[1].as_json(), headers=SECURITY_HEADERS)


@staff_page(role="admin")
async def cancel(request: Request, ctx: Context) -> Response:
    broadcast_id: int = request.path_params["broadcast_id"]

    def apply() -> int | None:
        with Session(ctx.runtime.engine) as session:
            stopped = progress.cancel(session, broadcast_id)
            if stopped is not None:
                audit.record(session, ctx.actor, "broadcast_cancel", f"broadcast:{broadcast_id}",
                             f"{stopped} queued invites cancelled")
            session.commit()
            return stopped

    stopped = await run_in_threadpool(apply)
    suffix = f"?cancelled={stopped}" if stopped is not None else ""
    return RedirectResponse(f"/staff/broadcasts/{broadcast_id}{suffix}", 303)


# --- helpers -----------------------------------------------------------------------------------


def _flow(request: Request, ctx: Context) -> str | None:
    name = request.path_params["flow"]
    return name if name in ctx.runtime.flows else None


async def _read(ctx: Context) -> tuple[launch_form.LaunchFields, launch_form.Reading]:
    fields = launch_form.LaunchFields(**{
        name: field(ctx, name, default) for name, default in vars(launch_form.LaunchFields())
        .items()})
    upload = ctx.form.get("csv") if ctx.form is not None else None
    file_text = None
    if isinstance(upload, UploadFile):
        if upload.filename:
            file_text = (await upload.read()).decode("utf-8", errors="replace")
        await upload.close()  # its spooled temporary file, now rather than at garbage collection
    settings = ctx.runtime.settings
    reading = launch_form.read(fields, file_text=file_text,
                               languages=tuple(settings.languages.supported),
                               now=datetime.now(UTC), zone=_zone(ctx))
    return fields, reading


def _figures(ctx: Context, flow: str, reading: launch_form.Reading) -> Figures:
    settings = ctx.runtime.settings
    with Session(ctx.runtime.engine) as session:
        chosen = select_audience(session, reading.audience, settings.secret_key, flow)
    return figures(settings, reading.text, chosen.by_provider(), excluded=chosen.excluded,
                   no_number=chosen.no_number, already_invited=chosen.already_invited)


def _refusal(ctx: Context, shown: Figures, known_token: bool) -> str:
    cap = ctx.runtime.settings.staff.recipient_cap
    if not known_token:
        return "This preview has expired. Check the figures below and confirm again."
    if shown.recipients == 0 and shown.already_invited:
        return ("Everyone in this audience was already invited to this poll. To send them a "
                "reminder, start again and tick “Invite again”.")
    if shown.recipients == 0:
        return "Nobody would receive this invite: change the audience."
    if shown.recipients > cap and field(ctx, "confirm_cap") != "yes":
        return (f"This invite goes to {shown.recipients:,} people, more than the cap of "
                f"{cap:,}. Tick the box to confirm that this is intended. Nothing was sent.")
    return ""


def _find(ctx: Context, token: str) -> int | None:
    if not token:
        return None
    with Session(ctx.runtime.engine) as session:
        earlier = launch.find(session, token)
        return earlier.id if earlier else None


def _launch(ctx: Context, draft: launch.Draft) -> int:
    runtime = ctx.runtime
    with Session(runtime.engine, expire_on_commit=False) as session:
        try:  # create() flushes: a twin press can lose there or at the commit
            created = launch.create(session, runtime.settings, draft, ctx.actor)
            broadcast = created.broadcast
            zone = _zone(ctx)
            when = (f"at {launch_form.local_value(draft.send_at, zone)} {zone.key}"
                    if draft.send_at else "now")
            audit.record(session, ctx.actor, "poll_launch", f"flow:{draft.flow}",
                         f"broadcast {broadcast.id} to {draft.audience.describe()}: "
                         f"{broadcast.recipients} recipients, {broadcast.excluded} excluded "
                         f"(STOP), sending {when}")
            session.commit()
        except IntegrityError:  # the same token confirmed at the same moment elsewhere
            session.rollback()
            earlier = launch.find(session, draft.token)
            if earlier is None or earlier.id is None:
                raise
            return earlier.id
    launch.after_commit(runtime.redis_sync, runtime.settings, created)
    assert broadcast.id is not None
    return broadcast.id


def _progress(ctx: Context, broadcast_id: int) -> tuple[Broadcast, progress.Progress] | None:
    with Session(ctx.runtime.engine, expire_on_commit=False) as session:
        broadcast = session.get(Broadcast, broadcast_id)
        if broadcast is None:
            return None
        return broadcast, progress.count(session, broadcast)


async def _form(request: Request, ctx: Context, flow: str, values: launch_form.LaunchFields,
                problems: list[str], row_errors: list[str]) -> Response:
    def known() -> tuple[list[str], list[str]]:
        with Session(ctx.runtime.engine) as session:
            return known_wards(session), known_tags(session)

    wards, tags = await run_in_threadpool(known)
    return render(request, "launch.html", 400 if problems else 200, flow=flow,
                  title=_title(ctx, flow), values=values, problems=problems,
                  row_errors=row_errors[:50], more_errors=max(len(row_errors) - 50, 0),
                  wards=wards, tags=tags, time_zone=_zone(ctx).key,
                  languages=ctx.runtime.settings.languages.supported)


def _preview(request: Request, ctx: Context, flow: str, values: launch_form.LaunchFields,
             reading: launch_form.Reading, shown: Figures, token: str, problems: list[str],
             status: int = 200) -> Response:
    cap = ctx.runtime.settings.staff.recipient_cap
    return render(request, "launch_preview.html", status, flow=flow, title=_title(ctx, flow),
                  values=values, reading=reading, figures=shown, token=token, problems=problems,
                  numbers="\n".join(reading.audience.numbers), over_cap=shown.recipients > cap,
                  cap=cap, send_at=launch_form.local_value(reading.send_at, _zone(ctx)),
                  time_zone=_zone(ctx).key,
                  row_errors=reading.listed.errors[:50],
                  more_errors=max(len(reading.listed.errors) - 50, 0))


def _zone(ctx: Context) -> ZoneInfo:
    return ZoneInfo(ctx.runtime.settings.staff.time_zone)  # checked when settings load


def _title(ctx: Context, flow: str) -> str:
    title = ctx.runtime.flows[flow].title
    return title.get(ctx.runtime.settings.languages.default) or next(iter(title.values()), flow)


routes: list[BaseRoute] = [
    Route("/staff/polls/{flow}/launch", launch_page, methods=["GET"]),
    Route("/staff/polls/{flow}/launch/preview", preview, methods=["POST"],
          max_body_size=LAUNCH_BODY_BYTES),
    Route("/staff/polls/{flow}/launch/confirm", confirm, methods=["POST"],
          max_body_size=LAUNCH_BODY_BYTES),
    Route("/staff/broadcasts/{broadcast_id:int}", broadcast_page, methods=["GET"]),
    Route("/staff/broadcasts/{broadcast_id:int}/progress.json", progress_json, methods=["GET"]),
    Route("/staff/broadcasts/{broadcast_id:int}/cancel", cancel, methods=["POST"]),
]
