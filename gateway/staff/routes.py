"""The staff view's routes, mounted at /staff/ by gateway.app; each page module lists its own."""

from __future__ import annotations

from pathlib import Path

from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from gateway.staff import home, launch_pages, login, polls_pages, reports_pages, simulator_pages

STATIC = Path(__file__).parent / "static"

routes: list[BaseRoute] = [
    Route("/staff/login", login.login_page, methods=["GET"]),
    Route("/staff/login", login.login_submit, methods=["POST"]),
    Route("/staff/logout", login.logout, methods=["POST"]),
    Route("/staff/", home.home, methods=["GET"]),
    Route("/staff/audit", home.audit_log, methods=["GET"]),
    *reports_pages.routes,  # /staff/reports...
    *polls_pages.routes,  # /staff/polls..., exports, /public/polls/{flow}
    *launch_pages.routes,  # /staff/polls/{flow}/launch..., /staff/broadcasts/{id}
    *simulator_pages.routes,  # /staff/simulator
    Mount("/staff/static", StaticFiles(directory=STATIC), name="staff-static"),
]
