"""The reports inbox: the filtered list (and its CSV), one report, and the admin's two actions on
it, assigning a department and changing the status.

A status change goes through `gateway.reports.service.change_status`, so the web, the CLI and
Open311 move reports the same way: the whole duplicate group moves, every reporter gets one SMS
in their language, and the SMS rows are committed with the change and the audit entry before
their jobs are queued. After a change the browser is redirected (so a reload does not post
again) to the report, which says how many citizens will be texted.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from sqlalchemy import ColumnElement
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.models import Report
from gateway.reports import STATUSES
from gateway.reports.reference import normalize
from gateway.reports.service import ReportContext, ReportError, change_status, send
from gateway.staff import audit
from gateway.staff.pages import SECURITY_HEADERS, Context, field, render, staff_page
from gateway.staff.reports_csv import csv_text
from gateway.staff.reports_filter import (
    PAGE_SIZE,
    ReportFilter,
    area_options,
    conditions,
    parse,
)
from gateway.staff.reports_listing import (
    STATUS_LABELS,
    category_names,
    detail,
    label,
    page_of,
)

DEPARTMENT_LIMIT = 80


# --- the list and its CSV ----------------------------------------------------------------------


@staff_page()
async def report_list(request: Request, ctx: Context) -> Response:
    wanted, names, where = _filter(request, ctx)

    def read() -> list:
        with Session(ctx.runtime.engine) as session:
            return page_of(session, where, names, offset=wanted.page * PAGE_SIZE,
                           limit=PAGE_SIZE + 1)

    found = await run_in_threadpool(read)
    return render(request, "reports.html", rows=found[:PAGE_SIZE], more=len(found) > PAGE_SIZE,
                  wanted=wanted, statuses=STATUSES, labels=STATUS_LABELS, categories=names,
                  area_groups=area_options(ctx.runtime.areas))


@staff_page()
async def report_csv(request: Request, ctx: Context) -> Response:
    """The filtered list, every page of it; the export is audited with its filter."""
    wanted, names, where = _filter(request, ctx)

    def export() -> str:
        with Session(ctx.runtime.engine) as session:
            rows = page_of(session, where, names)
            audit.record(session, ctx.actor, "export", "reports",
                         f"reports CSV, {len(rows)} rows; {wanted.describe()}")
            session.commit()
            return csv_text(rows)

    body = await run_in_threadpool(export)
    headers = {**SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="reports.csv"'}
    return Response(body, media_type="text/csv; charset=utf-8", headers=headers)


def _filter(
    request: Request, ctx: Context
) -> tuple[ReportFilter, dict[str, str], list[ColumnElement[bool]]]:
    """The list's filter from the query string, the category names, and its SQL conditions
    (the page and its CSV export read them alike)."""
    wanted = parse(request.query_params, ctx.runtime.areas)
    return wanted, category_names(ctx.runtime.flows), conditions(wanted, ctx.runtime.areas)


# --- one report --------------------------------------------------------------------------------


@staff_page()
async def report_page(request: Request, ctx: Context) -> Response:
    reference = request.path_params["reference"]
    return await _show(request, ctx, reference, notice=_notice(request.query_params))


@staff_page(role="admin")
async def report_status(request: Request, ctx: Context) -> Response:
    reference = request.path_params["reference"]
    form = {name: field(ctx, name) for name in ("status", "note", "reason")}
    problem = _status_problem(form)
    if problem:
        return await _show(request, ctx, reference, status=400, error=problem, form=form)
    try:
        texted = await run_in_threadpool(_change, ctx, reference, form)
    except ReportError as error:
        return await _show(request, ctx, reference, status=400, error=str(error), form=form)
    if texted is None:
        return await _show(request, ctx, reference)  # the 404 page
    query = urlencode({"changed": form["status"], "texted": texted})
    return RedirectResponse(f"/staff/reports/{_canonical(reference)}?{query}", 303)


@staff_page(role="admin")
async def report_department(request: Request, ctx: Context) -> Response:
    reference = request.path_params["reference"]
    department = " ".join(field(ctx, "department").split())
    if len(department) > DEPARTMENT_LIMIT:
        return await _show(request, ctx, reference, status=400, form={"department": department},
            error=f"A department name has at most {DEPARTMENT_LIMIT} characters "
                  f"(this one has {len(department)}).")
    found = await run_in_threadpool(_assign, ctx, reference, department)
    if not found:
        return await _show(request, ctx, reference)
    return RedirectResponse(f"/staff/reports/{_canonical(reference)}?saved=department", 303)


# --- the work, in a thread -----------------------------------------------------------------------


def _change(ctx: Context, reference: str, form: dict[str, str]) -> int | None:
    """Change the status; the number of citizens texted, None if there is no such report."""
    runtime = ctx.runtime
    context = ReportContext(runtime.settings, runtime.texts, runtime.areas)
    with Session(runtime.engine) as session:
        report = _locked(session, reference)
        if report is None:
            return None
        previous = report.status
        messages = change_status(session, context, report=report, status=form["status"],
                                 actor=f"staff:{ctx.actor}", note=form["note"] or None,
                                 reason=form["reason"] or None)
        audit.record(session, ctx.actor, "report_status", f"report:{report.reference}",
                     f"{previous} -> {form['status']}; texted {len(messages)}; "
                     f"note: {form['note'] or '-'}; reason: {form['reason'] or '-'}")
        session.commit()
        send(runtime.redis_sync, runtime.settings, messages)
        return len(messages)


def _assign(ctx: Context, reference: str, department: str) -> bool:
    with Session(ctx.runtime.engine) as session:
        report = _locked(session, reference)
        if report is None:
            return False
        previous = report.department or ""
        if previous != department:
            report.department = department or None
            session.add(report)
            audit.record(session, ctx.actor, "report_department", f"report:{report.reference}",
                         f"department: {previous or '-'} -> {department or '-'}")
            session.commit()
        return True


def _locked(session: Session, reference: str) -> Report | None:
    """The report, locked until commit (PostgreSQL), so two admins cannot both move it on from
    the same status; SQLite serialises writers anyway."""
    canonical = normalize(reference)
    if canonical is None:
        return None
    return session.exec(
        select(Report).where(Report.reference == canonical).with_for_update()).first()


# --- showing it ----------------------------------------------------------------------------------


async def _show(
    request: Request, ctx: Context, reference: str, *, status: int = 200, error: str = "",
    notice: str = "", form: dict[str, str] | None = None,
) -> Response:
    names = category_names(ctx.runtime.flows)
    canonical = normalize(reference)

    def read():
        with Session(ctx.runtime.engine) as session:
            report = session.exec(select(Report).where(Report.reference == canonical)).first()
            return detail(session, report, names) if report is not None else None

    found = await run_in_threadpool(read) if canonical else None
    if found is None:
        return render(request, "reports_missing.html", 404, reference=reference)
    return render(request, "reports_detail.html", status, d=found, error=error, notice=notice,
                  form={"status": "", "note": "", "reason": "",
                        "department": found.report.department or "", **(form or {})},
                  labels=STATUS_LABELS)


def _status_problem(form: dict[str, str]) -> str:
    """Web-worded checks before the service's own (which also guards the CLI and Open311)."""
    if not form["status"]:
        return "Choose the new status."
    if form["status"] == "rejected" and not form["reason"]:
        return "A rejected report needs a reason: the citizen is told why by SMS."
    return ""


def _notice(params: Mapping[str, str]) -> str:
    changed, texted = params.get("changed", ""), params.get("texted", "")
    if changed in STATUSES and texted.isdigit() and len(texted) < 6:
        people = "1 citizen" if texted == "1" else f"{texted} citizens"
        return f"Status changed to {label(changed)}. {people} will be texted."
    if params.get("saved") == "department":
        return "Department saved."
    return ""


def _canonical(reference: str) -> str:
    return normalize(reference) or reference


routes: list[BaseRoute] = [
    Route("/staff/reports", report_list, methods=["GET"]),
    Route("/staff/reports.csv", report_csv, methods=["GET"]),
    Route("/staff/reports/{reference}", report_page, methods=["GET"]),
    Route("/staff/reports/{reference}/status", report_status, methods=["POST"]),
    Route("/staff/reports/{reference}/department", report_department, methods=["POST"]),
]
