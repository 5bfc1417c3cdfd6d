"""`gateway staff add EMAIL --role admin|analyst`: a staff account, its password prompted."""

from __future__ import annotations

import argparse
import getpass
import sys

from gateway.config import load_settings


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    staff = sub.add_parser("staff", help="staff accounts").add_subparsers(metavar="COMMAND")
    add = staff.add_parser("add", help="create a staff account (password prompted)")
    add.add_argument("email", metavar="EMAIL")
    add.add_argument("--role", choices=["admin", "analyst"], required=True)
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from standard input (scripts, provisioning)")
    add.set_defaults(command=cmd_staff_add)


def cmd_staff_add(args: argparse.Namespace) -> int:
    from sqlmodel import Session

    from gateway.db import make_engine
    from gateway.staff import audit
    from gateway.staff.accounts import AccountError, create_account

    password = _password(args.password_stdin)
    if password is None:
        return 1
    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            try:
                account = create_account(session, args.email, args.role, password)
            except AccountError as error:
                print(f"staff: {error}", file=sys.stderr)
                return 1
            audit.record(session, "cli", "staff_add", f"staff:{account.email}", account.role)
            session.commit()
            print(f"staff: {account.email} can now log in at /staff/login as {account.role}")
    finally:
        engine.dispose()
    return 0


def _password(from_stdin: bool) -> str | None:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password (12 characters or more): ")
    if getpass.getpass("Again: ") != first:
        print("staff: the two passwords differ; nothing was created", file=sys.stderr)
        return None
    return first
