"""Inserting a broadcast's thousands of rows at once, skipping rows whose key exists already.

On PostgreSQL the values that differ per row are streamed with COPY into a temporary table,
then moved over with one `INSERT … SELECT … ON CONFLICT (key) DO NOTHING` that adds the values
every row shares (`same`): close to what the database takes from a plain COPY, where one
INSERT per row, even pipelined, took about twice as long (and SQLAlchemy's multi-row VALUES
twenty times). On SQLite, which runs in the process, an executemany of `INSERT … ON CONFLICT
DO NOTHING` is fast enough. Either way it runs inside the caller's transaction, so a launch
that fails half-way leaves nothing behind.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

SQLITE_CHUNK = 1000  # rows per executemany


def insert_ignoring(
    session: Session, table: Table, rows: list[dict[str, Any]], key: str,
    *, same: Mapping[str, Any] | None = None,
) -> None:
    """Insert `rows` (dicts with the same keys, plus the values in `same` for every row) into
    `table`, skipping those whose `key` exists."""
    if not rows:
        return
    same = dict(same or {})
    if session.get_bind().dialect.name == "postgresql":
        _copy_then_insert(session, table, rows, key, same)
        return
    statement = sqlite.insert(table).on_conflict_do_nothing(index_elements=[key])
    for start in range(0, len(rows), SQLITE_CHUNK):
        session.execute(statement, [{**same, **row} for row in rows[start:start + SQLITE_CHUNK]])


def _copy_then_insert(
    session: Session, table: Table, rows: list[dict[str, Any]], key: str, same: dict[str, Any]
) -> None:
    varying = list(rows[0])
    shared = list(same)
    incoming = _quote(f"incoming_{table.name}")
    target = _quote(table.name)
    copied = ", ".join(_quote(name) for name in varying)
    values = ", ".join(f"CAST(%s AS {_sql_type(table, name)})" for name in shared)
    json_at = [i for i, name in enumerate(varying) if _is_json(table, name)]
    pick = itemgetter(*varying)
    cursor = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor:
        cursor.execute(f"CREATE TEMPORARY TABLE {incoming} ON COMMIT DROP AS "
                       f"SELECT {copied} FROM {target} WITH NO DATA")
        with cursor.copy(f"COPY {incoming} ({copied}) FROM STDIN") as copy:
            for row in rows:
                picked = pick(row)
                line = [picked] if len(varying) == 1 else list(picked)
                for i in json_at:
                    line[i] = _json(line[i])
                copy.write_row(line)
        columns = ", ".join([copied, *(_quote(name) for name in shared)])
        selected = ", ".join([copied, values]) if shared else copied
        cursor.execute(
            f"INSERT INTO {target} ({columns}) SELECT {selected} FROM {incoming} "
            f"ON CONFLICT ({_quote(key)}) DO NOTHING",
            [_json(same[name]) if _is_json(table, name) else same[name] for name in shared],
        )
        cursor.execute(f"DROP TABLE {incoming}")


def _sql_type(table: Table, name: str) -> str:
    return table.c[name].type.compile(dialect=postgresql.dialect())


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type, JSON)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
