"""The staff home page and the audit log."""

from __future__ import annotations

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from gateway.staff import audit
from gateway.staff.pages import Context, render, staff_page

PAGE_SIZE = 100


@staff_page()
async def home(request: Request, ctx: Context) -> Response:
    return render(request, "home.html")


@staff_page(role="admin")
async def audit_log(request: Request, ctx: Context) -> Response:
    page = _page_number(request.query_params.get("page"))

    def read() -> list:
        with Session(ctx.runtime.engine) as session:
            return list(audit.recent(session, limit=PAGE_SIZE + 1, offset=page * PAGE_SIZE))

    entries = await run_in_threadpool(read)
    return render(request, "audit.html", entries=entries[:PAGE_SIZE], page=page,
                  more=len(entries) > PAGE_SIZE)


def _page_number(text: str | None) -> int:
    return int(text) if text and text.isdigit() and len(text) < 6 else 0
