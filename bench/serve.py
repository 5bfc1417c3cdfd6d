"""`gateway web` plus one bench-only route, the baseline the USSD hop is measured against.

    .venv/bin/python bench/serve.py      # same settings and environment as `gateway web`

POST /bench/baseline reads the form exactly as POST /ussd/africastalking does (the same
`read_form`: content type, body limit, UTF-8, repeated fields) and answers `END ok`: what the
server, Starlette and the form parsing cost before the gateway does anything. The process is
started through `gateway web` itself (the CLI's `cmd_web`, so the same uvicorn options and
logging), with the app factory wrapped to add the route. The production app never has it.
"""

from __future__ import annotations

import sys

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

import gateway.app
from gateway import cli
from gateway.channels.africastalking import BadRequest
from gateway.config import Settings
from gateway.web.ussd import read_form

BASELINE_PATH = "/bench/baseline"
_create_app = gateway.app.create_app


async def baseline(request: Request) -> Response:
    limit = request.app.state.runtime.settings.app.max_body_bytes
    try:
        await read_form(request, limit)
    except BadRequest as error:
        return PlainTextResponse(error.reason, status_code=error.status)
    return PlainTextResponse("END ok")


def create_app_with_baseline(settings: Settings) -> Starlette:
    app = _create_app(settings)
    app.add_route(BASELINE_PATH, baseline, methods=["POST"])
    return app


def main() -> int:
    gateway.app.create_app = create_app_with_baseline  # what cmd_web imports when it runs
    return cli.main(["web"])


if __name__ == "__main__":
    sys.exit(main())
