"""Report fixtures: the real database, Redis, RQ's worker and the provider emulator."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from outbox_support import fresh_number, jsonl, outbox_environ
from rq import Worker
from sqlalchemy import Engine
from sqlmodel import Session, select

from gateway.areas import load_tree
from gateway.config import Settings, load_settings
from gateway.crypto import encrypt_number
from gateway.emulator.server import running
from gateway.emulator.state import EmulatorConfig
from gateway.flows.texts import SystemTexts
from gateway.models import Contact, Report
from gateway.phone import pseudonym
from gateway.reports.service import Filing, ReportContext, send
from gateway.runs import drain_outbox
from gateway.sessions import OUTBOX

REPO = Path(__file__).resolve().parents[2]
QUEUES = ["high", "default", "low"]
WARD = "kisumu-central/railways"


@dataclass
class Desk:
    """A city's report desk in a test: file runs, change statuses, read what citizens got."""

    settings: Settings
    engine: Engine
    redis: redis.Redis
    sent_file: Path
    context: ReportContext
    runs: list[str] = field(default_factory=list)

    def citizen(self, *, language: str = "en", provider: str = "africastalking",
                opted_out: bool = False) -> tuple[str, str]:
        """A contact with an encrypted number: (number, pseudonym)."""
        number = fresh_number()
        who = pseudonym(number, self.settings.secret_key)
        now = datetime.now(UTC)
        with Session(self.engine) as session:
            session.add(Contact(pseudonym=who, language=language, channel=provider,
                                number_encrypted=encrypt_number(number, self.settings.secret_key),
                                opted_out=opted_out, created_at=now, updated_at=now))
            session.commit()
        return number, who

    def finish_run(self, who: str, *, run_id: str | None = None, category: str = "water",
                   ward: str = WARD, language: str = "en", channel: str = "sms",
                   **extra: Any) -> str:
        """Push a completed report run on the runs outbox (as a host does) and drain it."""
        run_id = run_id or f"run-{len(self.runs) + 1}-{who[:6]}"
        self.runs.append(run_id)
        now = datetime.now(UTC).timestamp()
        entry = {
            "run_id": run_id, "flow": "report", "contact": who, "channel": channel,
            "language": language, "status": "completed", "last_step": "end",
            "answers": {"category": category, "ward": ward, "landmark": "near the market",
                        "description": "The tap is dry", "confirm": "yes"},
            "hops": 7, "started_at": now - 60, "ended_at": now, "simulated": False, **extra,
        }
        self.redis.rpush(OUTBOX, json.dumps(entry))
        drain_outbox(self.redis, self.engine, reports=Filing(self.context, frozenset({"report"})))
        return run_id

    def report(self, run_id: str) -> Report:
        with Session(self.engine) as session:
            found = session.exec(select(Report).where(Report.run_id == run_id)).one()
            return found

    def commit_and_send(self, session: Session, messages: list) -> None:
        session.commit()
        send(self.redis, self.settings, messages)

    def work(self) -> None:
        """RQ's own (forking) worker until the queues are empty; jobs read os.environ."""
        Worker(QUEUES, connection=self.redis).work(burst=True)

    def sent(self, to: str | None = None) -> list[str]:
        self.work()
        return [line["text"] for line in jsonl(self.sent_file) if to is None or line["to"] == to]


@pytest.fixture
def desk(db_engine, database_url, redis_url, redis_sync, tmp_path, monkeypatch) -> Desk:
    base = load_settings(outbox_environ(redis_url=redis_url, database_url=database_url,
                                        var_dir=tmp_path / "var", emulator_url="http://x"))
    sent_file = tmp_path / "emulator" / "sent.jsonl"
    config = EmulatorConfig.from_settings(base, messages_path=sent_file, deliver_reports=False)
    with running(config) as url:
        env = outbox_environ(redis_url=redis_url, database_url=database_url,
                             var_dir=tmp_path / "var", emulator_url=url)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        settings = load_settings(env)
        texts = SystemTexts.load(REPO / "flows" / "_system.toml")
        context = ReportContext(settings, texts, load_tree(None))
        yield Desk(settings, db_engine, redis_sync, sent_file, context)
