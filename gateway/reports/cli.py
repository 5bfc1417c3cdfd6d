"""`gateway reports status|list` and `gateway apikey add`: staff and city systems, for now.

A later issue gives staff screens; until then a status change is typed here, and it goes
through the same service function (and texts the same citizens) as any other change.
"""

from __future__ import annotations

import argparse
import hashlib
import secrets
import sys
from typing import TYPE_CHECKING

from gateway.config import load_settings
from gateway.reports import STATUSES

if TYPE_CHECKING:
    from gateway.models import Report

LIST_LIMIT = 50


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reports = sub.add_parser("reports", help="citizen reports").add_subparsers(metavar="COMMAND")
    status = reports.add_parser("status", help="change a report's status (texts its reporters)")
    status.add_argument("reference", metavar="REFERENCE", help="e.g. R-7K3Q")
    status.add_argument("status", metavar="STATUS", help=", ".join(STATUSES))
    status.add_argument("--note", help="told to the reporters in the status SMS")
    status.add_argument("--reason", help="why, for a rejected report (required then)")
    status.add_argument("--actor", metavar="EMAIL", required=True, help="who makes the change")
    status.set_defaults(command=cmd_reports_status)
    listing = reports.add_parser("list", help="the latest reports, newest first")
    listing.add_argument("--status", choices=STATUSES)
    listing.add_argument("--limit", type=int, default=LIST_LIMIT)
    listing.set_defaults(command=cmd_reports_list)

    apikey = sub.add_parser("apikey", help="Open311 API keys").add_subparsers(metavar="COMMAND")
    add = apikey.add_parser("add", help="issue a key to a city system (shown once)")
    add.add_argument("name", metavar="NAME")
    add.set_defaults(command=cmd_apikey_add)


def cmd_reports_status(args: argparse.Namespace) -> int:
    from redis import Redis
    from sqlmodel import Session

    from gateway.areas import load_tree
    from gateway.db import make_engine
    from gateway.reports.service import ReportContext, ReportError, change_status, find, send
    from gateway.runtime import load_content

    settings = load_settings()
    _, texts = load_content(settings)
    context = ReportContext(settings, texts, load_tree(settings.reports.areas_file or None))
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, expire_on_commit=False) as session:
            report = find(session, args.reference)
            if report is None:
                print(f"reports: no report has the reference {args.reference}", file=sys.stderr)
                return 1
            try:
                messages = change_status(
                    session, context, report=report, status=args.status,
                    actor=f"staff:{args.actor.strip()}", note=args.note, reason=args.reason)
            except ReportError as error:
                session.rollback()
                print(f"reports: {error}; nothing changed", file=sys.stderr)
                return 1
            session.commit()
            print(f"{report.reference}: {report.status}; {len(messages)} SMS queued")
        if messages and settings.redis_url:  # else the worker's outbox sweeper enqueues them
            send(Redis.from_url(settings.redis_url), settings, messages)
    finally:
        engine.dispose()
    return 0


def cmd_reports_list(args: argparse.Namespace) -> int:
    from sqlmodel import Session, col, select

    from gateway.db import make_engine
    from gateway.models import Report

    engine = make_engine(load_settings().database_url)
    try:
        with Session(engine) as session:
            query = select(Report).order_by(col(Report.created_at).desc(), col(Report.id).desc())
            if args.status:
                query = query.where(Report.status == args.status)
            for report in session.exec(query.limit(args.limit)):
                print(_line(report))
    finally:
        engine.dispose()
    return 0


def _line(report: Report) -> str:
    linked = f" (duplicate of #{report.duplicate_of})" if report.duplicate_of else ""
    when = report.created_at.strftime("%Y-%m-%d %H:%M")
    return (f"{report.reference}\t{report.status}\t{report.category}\t{report.ward_code}\t"
            f"{when}{linked}")


def cmd_apikey_add(args: argparse.Namespace) -> int:
    from sqlalchemy.exc import IntegrityError
    from sqlmodel import Session

    from gateway.db import make_engine
    from gateway.models import ApiKey

    settings = load_settings()
    token, digest = new_key()
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            session.add(ApiKey(name=args.name.strip(), key_hash=digest))
            try:
                session.commit()
            except IntegrityError:
                print(f"apikey: a key named {args.name!r} exists already", file=sys.stderr)
                return 1
    finally:
        engine.dispose()
    print(f"API key for {args.name} (shown once; only its hash is kept):\n{token}")
    return 0


def new_key() -> tuple[str, str]:
    """A random token and its sha256.

    A plain sha256 is enough here, unlike for passwords: the token is 32 random bytes (256 bits),
    so there is nothing to guess and no dictionary to try, and a slow hash (argon2) would only
    slow down every Open311 request that checks a key.
    """
    token = secrets.token_urlsafe(32)
    return token, hashlib.sha256(token.encode()).hexdigest()
