"""Alembic migrations, configured in code: `gateway db upgrade` needs no alembic.ini.

To write a new revision after changing gateway/models.py:
    .venv/bin/python -c "from gateway.migrations import revision; revision('add x')"
then review the generated file in gateway/migrations/versions/.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from gateway.db import make_engine

HERE = Path(__file__).parent


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.attributes["engine"] = engine
    return config


def upgrade(url: str) -> None:
    """Bring the database at `url` to the newest revision; a no-op when it is already there."""
    engine = make_engine(url)
    try:
        command.upgrade(alembic_config(engine), "head")
    finally:
        engine.dispose()


def revision(message: str, url: str = "sqlite:///var/gateway.db") -> None:
    """Autogenerate a revision by comparing gateway.models with the (upgraded) database at `url`."""
    upgrade(url)
    engine = make_engine(url)
    try:
        command.revision(alembic_config(engine), message=message, autogenerate=True)
    finally:
        engine.dispose()
