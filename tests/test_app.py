import dataclasses
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings
from gateway.runtime import StartupError

REPO = Path(__file__).resolve().parent.parent


async def broken(request: Request) -> None:
    raise RuntimeError("a bug with a number +254711000089 in it")


def test_an_unexpected_error_never_shows_a_traceback(app: Starlette) -> None:
    app.router.routes.append(Route("/broken", broken))

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/broken")

    assert (response.status_code, response.text) == (500, "Internal Server Error")


def test_the_runtime_is_on_the_app_state_while_it_runs(app: Starlette) -> None:
    with TestClient(app):
        runtime = app.state.runtime
        assert set(runtime.flows) == {"budget", "report", "survey"}
        assert runtime.texts.text("more", "sw") == "Zaidi"


def test_the_app_refuses_to_start_on_a_broken_flow_and_says_why(
    settings: Settings, tmp_path: Path
) -> None:
    """However the app is served (uvicorn, a test client), its lifespan runs the flow check."""
    shutil.copytree(REPO / "flows", tmp_path / "flows")
    survey = tmp_path / "flows" / "survey.toml"
    survey.write_text(survey.read_text().replace('fr = "Trop loin"', 'fx = "Trop loin"'))
    broken_settings = dataclasses.replace(
        settings, app=dataclasses.replace(settings.app, flows_dir=str(tmp_path / "flows"))
    )

    with pytest.raises(StartupError) as refused, TestClient(create_app(broken_settings)):
        pass

    lines = survey.read_text().splitlines()
    line = next(number for number, text in enumerate(lines, 1) if "Trop loin" in text)
    where = f'{survey}:{line}: step "why_not": option "too_far" label has'
    assert str(refused.value) == (
        "refusing to start, the flows have problems:\n"
        f'{where} no "fr" text\n'
        f'{where} a "fx" text but the flow does not declare that language'
    )


def test_importing_the_package_connects_to_nothing() -> None:
    """Every module imports with sockets forbidden: connections are made at start-up only."""
    script = """
import importlib, pkgutil, socket, sqlite3
import psycopg
def refuse(*args, **kwargs):
    raise AssertionError("a connection at import time")
socket.socket.connect = socket.create_connection = refuse
sqlite3.connect = psycopg.connect = psycopg.Connection.connect = refuse
import gateway
for module in pkgutil.walk_packages(gateway.__path__, "gateway."):
    if module.name not in ("gateway.__main__", "gateway.migrations.env"):
        importlib.import_module(module.name)
print("imported")
"""
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60
    )

    assert (result.returncode, result.stdout) == (0, "imported\n"), result.stderr
