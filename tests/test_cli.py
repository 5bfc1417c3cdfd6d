import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from gateway.cli import main

REPO = Path(__file__).resolve().parent.parent
KEY = "cli-test-key-0123456789abcdefghijklmnop"


def gateway(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def clean_env(**extra: str) -> dict[str, str]:
    """The caller's environment without any gateway setting, plus `extra`."""
    names = ("GATEWAY_", "REDIS_URL", "DATABASE_URL", "AT_USERNAME", "AT_API_KEY", "TWILIO_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(names)}
    return {**env, **extra}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_the_console_script_is_installed() -> None:
    assert (Path(sys.executable).parent / "gateway").exists(), "run `pip install -e .`"


def test_help_lists_the_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])

    assert exited.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "web", "worker", "flows", "simulate", "db", "results", "staff"):
        assert command in out



def test_db_upgrade_creates_the_sqlite_database(tmp_path: Path) -> None:
    env = clean_env(GATEWAY_SECRET_KEY=KEY, DATABASE_URL=f"sqlite:///{tmp_path}/data/gw.db")

    first = gateway("db", "upgrade", cwd=tmp_path, env=env)
    second = gateway("db", "upgrade", cwd=tmp_path, env=env)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "is up to date" in second.stdout
    with sqlite3.connect(tmp_path / "data" / "gw.db") as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"contact", "flow_run", "ussd_session_record"} <= tables


def test_results_leaves_simulator_runs_out_unless_asked(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sqlmodel import Session

    from gateway.db import make_engine
    from gateway.models import FlowRun

    shutil.copytree(REPO / "flows", tmp_path / "flows")
    url = f"sqlite:///{tmp_path}/gw.db"
    env = clean_env(DATABASE_URL=url)
    assert gateway("db", "upgrade", cwd=tmp_path, env=clean_env(GATEWAY_SECRET_KEY=KEY,
                                                              DATABASE_URL=url)).returncode == 0
    engine = make_engine(url)
    with Session(engine) as session:
        for run_id, simulated in (("real-run", False), ("played-run", True)):
            session.add(FlowRun(
                id=run_id, flow="budget", contact_pseudonym="c" * 32, channel="ussd",
                language="en", status="completed", last_step="thanks",
                answers={"priority": "drainage"}, simulated=simulated,
                started_at=datetime(2025, 3, 1, 9, 0, tzinfo=UTC),
                ended_at=datetime(2025, 3, 1, 9, 1, tzinfo=UTC)))
        session.commit()
    engine.dispose()

    plain = gateway("results", "budget", cwd=tmp_path, env=env)
    every = gateway("results", "budget", "--include-simulated", cwd=tmp_path, env=env)

    assert plain.returncode == 0 and every.returncode == 0, plain.stderr + every.stderr
    assert [line.split(",")[:1] + line.split(",")[8:9] for line in plain.stdout.splitlines()] == [
        ["run_id", "simulated"], ["real-run", "False"]]
    assert sorted(line.split(",")[0] + " " + line.split(",")[8]
                  for line in every.stdout.splitlines()[1:]) == [
        "played-run True", "real-run False"]


def test_db_upgrade_says_when_the_database_is_unreachable(tmp_path: Path) -> None:
    url = f"postgresql+psycopg://gw:hunter2@127.0.0.1:{free_port()}/gw"
    env = clean_env(GATEWAY_SECRET_KEY=KEY, DATABASE_URL=url)

    result = gateway("db", "upgrade", cwd=tmp_path, env=env)

    assert result.returncode == 1
    assert result.stderr.startswith(
        "database: cannot migrate postgresql+psycopg://gw:***@127.0.0.1"
    )
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr


def test_a_settings_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    (tmp_path / "settings.toml").write_text('[app]\nport = "eighty"\n')

    result = gateway("db", "upgrade", cwd=tmp_path, env=clean_env(GATEWAY_SECRET_KEY=KEY))

    assert result.returncode == 2
    assert result.stderr == (
        'settings: app.port must be an integer, got "eighty" (from settings.toml)\n'
    )


def test_web_refuses_flows_with_problems(tmp_path: Path) -> None:
    shutil.copytree(REPO / "flows", tmp_path / "flows")
    budget = tmp_path / "flows" / "budget.toml"
    budget.write_text(budget.read_text().replace("[flow]", "[flow]\ncolour = 'red'", 1))

    result = gateway("web", cwd=tmp_path, env=clean_env(GATEWAY_SECRET_KEY=KEY))

    assert result.returncode == 2
    assert result.stderr.startswith("gateway: refusing to start, the flows have problems:\n")
    assert "budget.toml:" in result.stderr and "Traceback" not in result.stderr


def test_run_serves_healthz_then_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    shutil.copy(REPO / "settings.toml", tmp_path)
    shutil.copytree(REPO / "flows", tmp_path / "flows")
    port, emulator_port = free_port(), free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "run"],
        cwd=tmp_path,
        env=clean_env(GATEWAY_APP_PORT=str(port), GATEWAY_EMULATOR_PORT=str(emulator_port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        health = wait_for_health(f"http://127.0.0.1:{port}/healthz", process, timeout=30)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()

    assert health == {"redis": "ok", "database": "ok"}
    assert process.returncode == 0, output
    assert f"gateway: http://127.0.0.1:{port}" in output
    assert f"emulator: http://127.0.0.1:{emulator_port} stands in for" in output
    var = tmp_path / "var"
    assert (var / "secret_key").exists() and (var / "gateway.db").exists()
    assert (var / "appendonly.aof").exists() or (var / "appendonlydir").exists()
    assert not (var / "redis.sock").exists(), "Redis was not shut down"
    assert "generated a development secret key in var/secret_key" in output
    assert "Traceback" not in output


def wait_for_health(url: str, process: subprocess.Popen[str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gateway run exited early:\n{process.communicate()[0]}")
        try:
            response = httpx.get(url, timeout=1)
        except httpx.HTTPError:
            time.sleep(0.1)
            continue
        if response.status_code == 200:
            return response.json()
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer 200 within {timeout} s")


BROKEN_FLOWS = REPO / "tests" / "flows" / "fixtures" / "broken"


def broken_flows(tmp_path: Path) -> int:
    """Copy the demo flows with a typo in the poll's "start again" route; returns its line."""
    shutil.copytree(REPO / "flows", tmp_path / "flows")
    budget = tmp_path / "flows" / "budget.toml"
    text = budget.read_text()
    budget.write_text(text.replace('goto = "priority"', 'goto = "priorty"', 1))
    return text[: text.index('goto = "priority"')].count("\n") + 1


def test_flows_check_gives_file_line_and_exit_1(tmp_path: Path) -> None:
    path = BROKEN_FLOWS / "unreachable.toml"

    result = gateway("flows", "check", str(path), cwd=tmp_path, env=clean_env())

    assert result.returncode == 1
    assert result.stdout == (
        f'{path}:14: step "orphan" cannot be reached from the start step "visited"\n'
    )


def test_flows_check_defaults_to_the_flows_dir_and_needs_no_secret(tmp_path: Path) -> None:
    shutil.copy(REPO / "settings.toml", tmp_path)
    shutil.copytree(REPO / "flows", tmp_path / "flows")

    result = gateway("flows", "check", cwd=tmp_path, env=clean_env(GATEWAY_ENV="production"))

    assert (result.returncode, result.stdout, result.stderr) == (0, "ok: 3 flows checked\n", "")
    assert not (tmp_path / "var").exists()  # no development key generated for a check


@pytest.mark.parametrize("command", ["web", "run", "worker"])
def test_servers_refuse_a_flow_that_points_nowhere_and_say_where(
    command: str, tmp_path: Path
) -> None:
    line = broken_flows(tmp_path)
    env = clean_env(GATEWAY_SECRET_KEY=KEY, REDIS_URL="redis://127.0.0.1:1/0")
    if command == "run":
        del env["REDIS_URL"]  # `gateway run` must refuse before starting an embedded Redis

    result = gateway(command, cwd=tmp_path, env=env)

    assert result.returncode == 2
    assert result.stderr == (
        "gateway: refusing to start, the flows have problems:\n"
        f'flows/budget.toml:{line}: step "confirm" points to unknown step "priorty"\n'
    )
    assert not (tmp_path / "var" / "redis.sock").exists()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("GATEWAY_USSD_RESUME_WINDOW_SECONDS", "ten",
         'settings: ussd.resume_window_seconds must be an integer, got "ten" '
         "(from GATEWAY_USSD_RESUME_WINDOW_SECONDS)"),
        ("DATABASE_URL", "postgres//gw:hunter2@db/gw",
         "settings: DATABASE_URL is not a database URL; "
         "use e.g. postgresql+psycopg://user@host/gateway or sqlite:///var/gateway.db"),
        ("GATEWAY_USSD_ROUTES", "*384*1#=budget,*384*9#=budgett",
         'gateway: refusing to start: ussd.routes "*384*9#" names flow "budgett", '
         "but there is no flows/budgett.toml"),
    ],
)  # fmt: skip
def test_a_bad_setting_stops_start_up_naming_the_key(
    name: str, value: str, message: str, tmp_path: Path
) -> None:
    shutil.copytree(REPO / "flows", tmp_path / "flows")

    result = gateway("web", cwd=tmp_path, env=clean_env(GATEWAY_SECRET_KEY=KEY, **{name: value}))

    assert (result.returncode, result.stderr) == (2, message + "\n")


PLACEHOLDER = "GATEWAY_SECRET_KEY looks like a placeholder"


@pytest.mark.parametrize(
    ("command", "secret", "why"),
    [
        ("web", None, "GATEWAY_SECRET_KEY is not set; production needs one"),
        ("web", "changeme", PLACEHOLDER),
        ("web", "your-secret-key-goes-here-0123456789", PLACEHOLDER),
        ("web", "Zq8-rT2p", "GATEWAY_SECRET_KEY is too short (8 characters)"),
        ("run", "changeme", PLACEHOLDER),
        ("worker", "changeme", PLACEHOLDER),
        ("db", None, "GATEWAY_SECRET_KEY is not set; production needs one"),
    ],
)
def test_production_refuses_a_missing_or_placeholder_secret(
    command: str, secret: str | None, why: str, tmp_path: Path
) -> None:
    env = clean_env(GATEWAY_ENV="production")
    if secret is not None:
        env["GATEWAY_SECRET_KEY"] = secret
    argv = ["db", "upgrade"] if command == "db" else [command]

    result = gateway(*argv, cwd=tmp_path, env=env)

    assert result.returncode == 2
    assert result.stderr.startswith(f"settings: {why}")
    assert "secrets.token_urlsafe" in result.stderr  # says how to make a good one
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "var").exists()  # nothing generated, nothing started


def test_development_generates_a_secret_key_once_and_says_so(tmp_path: Path) -> None:
    env = clean_env(DATABASE_URL=f"sqlite:///{tmp_path}/gw.db")

    first = gateway("db", "upgrade", cwd=tmp_path, env=env)
    second = gateway("db", "upgrade", cwd=tmp_path, env=env)

    assert first.returncode == second.returncode == 0
    assert "WARNING gateway.secret: generated a development secret key in var/secret_key" in (
        first.stderr
    )
    assert "secret key" not in second.stderr
    assert len((tmp_path / "var" / "secret_key").read_text().strip()) >= 32
