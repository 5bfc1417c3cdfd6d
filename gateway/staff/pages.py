"""What every staff page shares: Jinja2 templates (autoescape on for all), the logged-in check,
roles, and CSRF on every form.

A page handler is `async def page(request, ctx) -> Response`, wrapped by `staff_page(...)`:

- no live session: a redirect to /staff/login?next=... (a form post gets 403 instead);
- a role it does not have: 403 with a page saying so;
- a POST whose `csrf_token` field is not the session's: 403, nothing done.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from gateway.staff import web_sessions
from gateway.staff.accounts import Staff
from gateway.staff.results.labels import label_of
from gateway.staff.web_sessions import StaffSession

if TYPE_CHECKING:
    from gateway.runtime import Runtime

TEMPLATES = Environment(
    loader=PackageLoader("gateway.staff", "templates"),
    autoescape=True,  # every template, whatever its name: citizen text is always escaped
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass
class Context:
    """One request's staff context: the runtime, the session, the form (for POSTs)."""

    runtime: Runtime
    session: StaffSession
    form: FormData | None = None

    @property
    def staff(self) -> Staff:
        return self.session.staff

    @property
    def actor(self) -> str:
        return self.session.staff.email


Page = Callable[[Request, Context], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTMLResponse:
    session: StaffSession | None = getattr(request.state, "staff_session", None)
    shared = {"staff": session.staff if session else None,
              "csrf_token": session.csrf if session else "",
              "path": request.url.path, "flow_title": flow_titles(request)}
    body = TEMPLATES.get_template(template).render({**shared, **values})
    return HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS)


def flow_titles(request: Request) -> Callable[[str], str]:
    """For templates: `flow_title("budget")` is "Ward budget poll" (the flow's title in its
    default language), or the name itself for a flow that is not loaded."""

    def title(name: str) -> str:
        runtime: Runtime | None = getattr(request.app.state, "runtime", None)
        flow = runtime.flows.get(name) if runtime is not None else None
        return (label_of(flow, flow.title) or name) if flow is not None else name

    return title


SECURITY_HEADERS = {
    # No inline script, no third party: the pages work offline and an injected tag cannot run.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def staff_page(role: str | None = None) -> Callable[[Page], Endpoint]:
    """Wrap a page: a live session, the role if given ("admin"), CSRF on POST."""

    def wrap(page: Page) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            runtime: Runtime = request.app.state.runtime
            session = await web_sessions.load(
                runtime.redis, runtime.settings, request.cookies.get(web_sessions.COOKIE))
            if session is None:
                if request.method != "GET":
                    return HTMLResponse("Your session has ended: log in again.", 403)
                target = quote(request.url.path + (f"?{request.url.query}" if request.url.query
                                                   else ""), safe="")
                return RedirectResponse(f"/staff/login?next={target}", 303)
            request.state.staff_session = session
            if role == "admin" and not session.staff.is_admin:
                return render(request, "forbidden.html", 403)
            form = None
            if request.method == "POST":
                form = await request.form()
                if not csrf_ok(session, form.get("csrf_token")):
                    return render(request, "forbidden.html", 403,
                                  reason="This form has expired. Go back, reload and try again.")
            return await page(request, Context(runtime, session, form))

        return endpoint

    return wrap


def csrf_ok(session: StaffSession, token: object) -> bool:
    return isinstance(token, str) and hmac.compare_digest(token, session.csrf)


def field(ctx: Context, name: str, default: str = "") -> str:
    """A text field of the posted form, stripped ("" if missing or a file)."""
    value = ctx.form.get(name) if ctx.form is not None else None
    return value.strip() if isinstance(value, str) else default
