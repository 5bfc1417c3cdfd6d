"""Open311 fixtures: the app on a real database of each backend, with the shipped flows."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import Engine
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import Settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def flows_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "flows"
    shutil.copytree(REPO / "flows", directory)
    return directory


@pytest.fixture
def open311_settings(settings: Settings, flows_dir: Path, db_engine: Engine) -> Settings:
    """Settings on a real database of each backend (SQLite, PostgreSQL), emptied per test."""
    return dataclasses.replace(
        settings, app=dataclasses.replace(settings.app, flows_dir=str(flows_dir))
    )


@pytest.fixture
def api(open311_settings: Settings, redis_sync: redis.Redis) -> Iterator[TestClient]:
    with TestClient(create_app(open311_settings)) as client:
        yield client
