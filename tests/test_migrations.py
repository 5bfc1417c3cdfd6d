from datetime import UTC, datetime, timedelta, timezone

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import Session, SQLModel, select

from gateway.db import make_engine, session_scope
from gateway.migrations import upgrade
from gateway.models import Contact, FlowRun

TABLES = {
    "contact",
    "flow_run",
    "ussd_session_record",
    "inbound_message",
    "outbound_message",
    "report",
    "report_event",
    "api_key",
    "staff_account",
    "audit_entry",
    "poll",
    "broadcast",
}


def test_upgrade_creates_the_tables_and_is_idempotent(new_database_url: str) -> None:
    upgrade(new_database_url)
    upgrade(new_database_url)  # a second run changes nothing and does not fail

    engine = make_engine(new_database_url)
    try:
        assert TABLES <= set(inspect(engine).get_table_names())
        with engine.connect() as connection:
            assert MigrationContext.configure(connection).get_current_heads() == ("0004",)
    finally:
        engine.dispose()


def test_the_migrations_match_the_models(db_engine: Engine) -> None:
    with db_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []


def test_a_run_round_trips_with_utc_times_and_json_answers(db_engine: Engine) -> None:
    started = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=3)))  # Nairobi
    run = FlowRun(
        id="run-1",
        flow="budget",
        contact_pseudonym="ab" * 16,
        language="sw",
        status="completed",
        last_step="thanks",
        answers={"priority": "water", "households": 4},
        hops=6,
        started_at=started,
        ended_at=started + timedelta(minutes=2),
    )
    with session_scope(db_engine) as session:
        session.add(run)

    with Session(db_engine) as session:
        stored = session.exec(select(FlowRun)).one()

    assert stored.answers == {"priority": "water", "households": 4}
    assert stored.started_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert stored.started_at.utcoffset() == timedelta(0)
    assert stored.ended_at - stored.started_at == timedelta(minutes=2)


def test_session_scope_rolls_back_on_error(db_engine: Engine) -> None:
    try:
        with session_scope(db_engine) as session:
            session.add(Contact(pseudonym="cd" * 16, language="fr"))
            session.flush()
            raise RuntimeError("boom")
    except RuntimeError:
        pass

    with Session(db_engine) as session:
        assert session.exec(select(Contact)).all() == []
