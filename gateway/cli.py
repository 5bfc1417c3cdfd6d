"""`gateway`: the one command operators type. Each subcommand is a function returning an exit code.

Modules owned by other parts (worker, results, simulate, flow checks) are imported only when their
subcommand runs, so `gateway --help` stays fast and one broken part does not break every command.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

from gateway import __version__, logs
from gateway.config import Settings, SettingsError, load_settings
from gateway.runtime import StartupError

Command = Callable[[argparse.Namespace], int]
STOP_TIMEOUT = 10.0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "command"):
        parser.print_help()
        return 2
    logs.configure()
    try:
        return args.command(args)
    except SettingsError as error:
        print(f"settings: {error}", file=sys.stderr)
    except StartupError as error:
        print(f"gateway: {error}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway", description="Civic SMS/USSD gateway: polls, surveys and citizen reports."
    )
    parser.add_argument("--version", action="version", version=f"gateway {__version__}")
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    def add(name: str, command: Command, summary: str) -> argparse.ArgumentParser:
        child = sub.add_parser(name, help=summary, description=summary)
        child.set_defaults(command=command)
        return child

    add("run", cmd_run, "web + worker (+ an embedded Redis when REDIS_URL is unset); Ctrl-C stops")
    add("web", cmd_web, "serve the HTTP endpoints (the Procfile's web process)")
    add("worker", cmd_worker, "run background jobs and store finished runs (Procfile's worker)")

    flows = sub.add_parser("flows", help="work with flow files").add_subparsers(metavar="COMMAND")
    check = flows.add_parser("check", help="validate flow files; file:line messages on problems")
    check.add_argument(
        "paths", nargs="*", metavar="PATH", help="files or directories (default: the flows dir)"
    )
    check.set_defaults(command=cmd_flows_check)

    simulate = add("simulate", cmd_simulate, "play a citizen in the terminal, no provider needed")
    target = simulate.add_mutually_exclusive_group(required=True)
    target.add_argument("--flow", help="flow name, e.g. budget")
    target.add_argument("--code", help="USSD service code, e.g. '*384*1#'")
    simulate.add_argument("--channel", choices=["ussd", "sms"], default="ussd")
    simulate.add_argument("--phone", help="the citizen's number (default: a fixed test number)")
    simulate.add_argument("--lang", help="the citizen's language, e.g. sw")

    db = sub.add_parser("db", help="the SQL database").add_subparsers(metavar="COMMAND")
    db.add_parser("upgrade", help="apply migrations").set_defaults(command=cmd_db_upgrade)

    results = add("results", cmd_results, "print a flow's answers (pseudonymised) to stdout")
    results.add_argument("flow", metavar="FLOW")
    results.add_argument("--format", choices=["csv", "json"], default="csv")
    results.add_argument("--include-simulated", action="store_true",
                         help="also list runs played in the simulator (left out by default)")

    from gateway.reports.cli import add_parsers as add_report_parsers
    from gateway.staff.cli import add_parsers as add_staff_parsers

    add_staff_parsers(sub)  # gateway staff add

    add_report_parsers(sub)  # gateway reports status|list, gateway apikey add

    emulator = add("emulator", cmd_emulator, "local Africa's Talking + Twilio emulator")
    emulator.add_argument("--host", help="address to listen on (default: emulator.host)")
    emulator.add_argument("--port", type=int, help="port to listen on (default: emulator.port)")
    emulator.add_argument(
        "--messages", metavar="PATH", help="JSONL of accepted messages (emulator.messages_path)"
    )
    emulator.add_argument(
        "--gateway-url", metavar="URL", help="where to post SMS, USSD hops and reports"
    )
    emulator.add_argument(
        "--no-reports", action="store_true", help="do not post delivery reports to the gateway"
    )
    return parser



def cmd_web(args: argparse.Namespace) -> int:
    import uvicorn

    from gateway.app import create_app
    from gateway.runtime import load_content

    settings = load_settings()
    load_content(settings)  # refuse here, with a clean message, rather than in uvicorn's lifespan
    uvicorn.run(
        create_app(settings),
        host=settings.app.host,
        port=settings.app.port,
        log_config=None,  # keep our root handlers, which mask phone numbers
        timeout_graceful_shutdown=5,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from gateway.worker import main as worker_main

    return worker_main(load_settings())


def cmd_emulator(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gateway.emulator.server import serve
    from gateway.emulator.state import EmulatorConfig

    settings = load_settings(secret=False)  # it pseudonymises nothing
    changes: dict[str, object] = {}
    if args.messages:
        changes["messages_path"] = Path(args.messages)
    if args.gateway_url:
        changes["gateway_url"] = args.gateway_url.rstrip("/")
    if args.no_reports:
        changes["deliver_reports"] = False
    config = EmulatorConfig.from_settings(settings, **changes)
    host, port = args.host or settings.emulator.host, args.port or settings.emulator.port
    print(
        f"emulator: http://{host}:{port}  Africa's Talking (username {config.at_username}) and "
        f"Twilio (account {config.twilio_account_sid}); posts to {config.gateway_url}; "
        f"records to {config.messages_path}",
        flush=True,
    )
    serve(config, host, port)
    return 0


def cmd_flows_check(args: argparse.Namespace) -> int:
    from gateway.flows.check import main as check_main

    settings = load_settings(secret=False)  # checking flows needs no secret, even in production
    return check_main(
        args.paths or [settings.app.flows_dir],
        settings.languages.default,
        settings.reports.areas_file,
    )


def cmd_simulate(args: argparse.Namespace) -> int:
    from gateway.simulate import main as simulate_main

    return simulate_main(load_settings(), args)


def cmd_results(args: argparse.Namespace) -> int:
    from gateway.results import main as results_main

    return results_main(load_settings(secret=False), args.flow, args.format,
                        include_simulated=args.include_simulated)


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    settings = load_settings()
    return 0 if _upgrade(settings) else 1


def _upgrade(settings: Settings) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.db import display_url
    from gateway.migrations import upgrade

    where = display_url(settings.database_url)
    try:
        upgrade(settings.database_url)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        print(f"database: cannot migrate {where}: {reason}", file=sys.stderr)
        return False
    print(f"database: {where} is up to date")
    return True


def cmd_run(args: argparse.Namespace) -> int:
    from gateway.db import display_url
    from gateway.embedded_redis import EmbeddedRedisError, start_embedded_redis
    from gateway.runtime import load_content

    settings = load_settings()  # generates the development secret key on first use
    load_content(settings)
    env = dict(os.environ)
    redis = None
    if settings.redis_url is None:
        try:
            redis = start_embedded_redis(settings.app.var_dir)
        except EmbeddedRedisError as error:
            print(f"redis: {error}", file=sys.stderr)
            return 1
        env["REDIS_URL"] = redis.url
    try:
        if not _upgrade(settings):
            return 1
        print(
            f"gateway: http://{settings.app.host}:{settings.app.port}  "
            f"(redis: {redis.url if redis else 'from REDIS_URL'}, "
            f"database: {display_url(settings.database_url)}, data under {settings.app.var_dir}/)"
            "  Ctrl-C stops",
            flush=True,
        )
        return _supervise(["web", "worker", *_emulator_child(settings)], env)
    finally:
        if redis is not None:
            redis.stop()


def _emulator_child(settings: Settings) -> list[str]:
    """`gateway emulator`, when development sends to it because no credentials are set."""
    if not settings.emulated:
        return []
    names = " and ".join({"africastalking": "Africa's Talking", "twilio": "Twilio"}[p]
                         for p in settings.emulated)
    print(
        f"emulator: {settings.emulator.url} stands in for {names} (no provider credentials "
        f"set); messages sent are recorded in {settings.emulator.messages_path}",
        flush=True,
    )
    return ["emulator"]


def _supervise(commands: list[str], env: dict[str, str]) -> int:
    """Run `gateway <command>` children until a signal (exit 0) or one of them dies (exit 1).

    Children get their own process group, so a terminal's Ctrl-C reaches only us: we stop them
    in order, and the embedded Redis after them, instead of everything dying at once.
    """
    stop = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    children = {
        name: subprocess.Popen([sys.executable, "-m", "gateway", name], env=env, process_group=0)
        for name in commands
    }
    try:
        while not stop.wait(0.2):
            dead = {name: c.returncode for name, c in children.items() if c.poll() is not None}
            if dead:
                for name, code in dead.items():
                    print(f"gateway: {name} exited with code {code}; stopping", file=sys.stderr)
                return 1
        return 0
    finally:
        _stop_children(list(children.values()))
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    for child in children:
        try:
            child.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
