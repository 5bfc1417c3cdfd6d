import logging
import stat
from dataclasses import fields
from pathlib import Path

import pytest

from gateway.config import SECTIONS, SettingsError, load_settings

REPO = Path(__file__).resolve().parent.parent
KEY = "k" * 16 + "0123456789abcdefghij"  # 36 characters, not a placeholder


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in an empty directory: no settings.toml, var/ created here."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_settings_file(in_tmp: Path) -> None:
    settings = load_settings({"GATEWAY_SECRET_KEY": KEY})

    assert settings.app.port == 8000
    assert settings.app.env == "development" and not settings.is_production
    assert settings.languages.supported == ("en", "sw", "fr")
    assert settings.ussd.routes == {}
    assert settings.runs.drain_interval_seconds == 1.0
    assert settings.redis_url is None
    assert settings.database_url == "sqlite:///var/gateway.db"
    assert settings.secret_key == KEY


def test_repo_settings_file_routes_the_demo_codes() -> None:
    settings = load_settings({"GATEWAY_SECRET_KEY": KEY}, path=REPO / "settings.toml")

    assert settings.ussd.routes == {"*384*1#": "budget", "*384*2#": "report", "*384*3#": "survey"}
    assert settings.languages.default == "en"


def test_settings_file_beats_defaults_and_env_beats_both(in_tmp: Path) -> None:
    write(in_tmp / "settings.toml", '[app]\nport = 9000\nhost = "0.0.0.0"\n')

    from_file = load_settings({"GATEWAY_SECRET_KEY": KEY})
    from_env = load_settings({"GATEWAY_SECRET_KEY": KEY, "GATEWAY_APP_PORT": "9100"})

    assert (from_file.app.port, from_file.app.host) == (9000, "0.0.0.0")
    assert (from_env.app.port, from_env.app.host) == (9100, "0.0.0.0")


@pytest.mark.parametrize(
    ("name", "text", "read"),
    [
        ("GATEWAY_APP_PORT", "8080", lambda s: s.app.port == 8080),
        ("GATEWAY_RUNS_DRAIN_INTERVAL_SECONDS", "0.25",
         lambda s: s.runs.drain_interval_seconds == 0.25),
        ("GATEWAY_LANGUAGES_SUPPORTED", "en, sw",
         lambda s: s.languages.supported == ("en", "sw")),
        ("GATEWAY_LANGUAGES_SUPPORTED", '["fr","en"]',
         lambda s: s.languages.supported == ("fr", "en")),
        ("GATEWAY_USSD_ROUTES", "*1#=budget,*2#=survey",
         lambda s: s.ussd.routes == {"*1#": "budget", "*2#": "survey"}),
        ("GATEWAY_USSD_ROUTES", '{"*9#": "survey"}', lambda s: s.ussd.routes == {"*9#": "survey"}),
        ("GATEWAY_ENV", "production", lambda s: s.is_production),
        ("REDIS_URL", "redis://cache:6379/0", lambda s: s.redis_url == "redis://cache:6379/0"),
        ("DATABASE_URL", "postgresql+psycopg://db/gw", lambda s: s.database_url.endswith("db/gw")),
        ("GATEWAY_APP_PORT", "", lambda s: s.app.port == 8000),  # empty counts as unset
    ],
)  # fmt: skip
def test_environment_values_are_converted_to_the_defaults_type(
    in_tmp: Path, name: str, text: str, read
) -> None:
    assert read(load_settings({"GATEWAY_SECRET_KEY": KEY, name: text}))


def test_env_routes_replace_the_file_routes_as_a_whole() -> None:
    environ = {"GATEWAY_SECRET_KEY": KEY, "GATEWAY_USSD_ROUTES": "*5#=survey"}
    settings = load_settings(environ, path=REPO / "settings.toml")

    assert settings.ussd.routes == {"*5#": "survey"}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("GATEWAY_USSD_RESUME_WINDOW_SECONDS", "ten",
         'ussd.resume_window_seconds must be an integer, got "ten" '
         "(from GATEWAY_USSD_RESUME_WINDOW_SECONDS)"),
        ("GATEWAY_RUNS_DRAIN_INTERVAL_SECONDS", "soon",
         'runs.drain_interval_seconds must be a number, got "soon" '
         "(from GATEWAY_RUNS_DRAIN_INTERVAL_SECONDS)"),
        ("GATEWAY_APP_PORT", "70000",
         "app.port must be a port number from 1 to 65535, got 70000 (from GATEWAY_APP_PORT)"),
        ("GATEWAY_USSD_SESSION_TTL_SECONDS", "0",
         "ussd.session_ttl_seconds must be positive, got 0 "
         "(from GATEWAY_USSD_SESSION_TTL_SECONDS)"),
        ("GATEWAY_APP_ENV", "prod",
         'app.env must be one of development, production, got "prod" (from GATEWAY_APP_ENV)'),
        ("GATEWAY_USSD_ROUTES", "budget", "ussd.routes must be a table of non-empty strings"),
        ("GATEWAY_LANGUAGES_DEFAULT", "de",
         'languages.default "de" (from GATEWAY_LANGUAGES_DEFAULT) is not in '
         'languages.supported ["en", "sw", "fr"] (from default)'),
        ("REDIS_URL", "localhost:6379", "REDIS_URL must start with redis://, rediss:// or unix://"),
        ("DATABASE_URL", "nonsense", "DATABASE_URL is not a database URL; use e.g. postgresql"),
        ("DATABASE_URL", "mysql://gw:hunter2@db/gw", "DATABASE_URL: mysql is not supported"),
        ("DATABASE_URL", "postgresql+psycopg2://db/gw",
         "DATABASE_URL: postgresql+psycopg2 is not supported"),
    ],
)  # fmt: skip
def test_bad_environment_values_name_the_key_and_the_variable(
    in_tmp: Path, name: str, text: str, message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        load_settings({"GATEWAY_SECRET_KEY": KEY, name: text})

    assert message in str(raised.value)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[app]\nport = "80"\n', 'app.port must be an integer, got "80" (from settings.toml)'),
        ("[app]\nport = true\n", "app.port must be an integer, got true (from settings.toml)"),
        ("[languages]\nsupported = []\n", "languages.supported must list at least one language"),
        ("[ussd]\nsesion_ttl_seconds = 3\n",
         "unknown setting ussd.sesion_ttl_seconds (in settings.toml)"),
        ("[smss]\nx = 1\n", "unknown setting smss (in settings.toml)"),
        ("[ussd.routes]\n'*1#' = 3\n", "ussd.routes must be a table of non-empty strings"),
        ("[app\n", "cannot read settings.toml"),
        ('[sms.keywords]\nPOLL = "budget:"\n',
         'sms.keywords must map keywords to "flow" or "flow:language"'),
        ('[sms.commands]\nstop = "STOP"\n', "sms.commands must be a table of lists of words"),
        ('[sms.commands]\nhalt = ["HALT"]\n', "sms.commands must be a table of lists of words"),
        ("[sms]\nmax_inbound_chars = 0\n", "sms.max_inbound_chars must be positive"),
        ("[sms]\nper_number_per_minute = -1\n",
         "sms.per_number_per_minute must not be negative (0 = no limit)"),
        ("[sms]\nper_number_burst = 0\n", "sms.per_number_burst must be positive"),
        ("[ussd]\nper_number_starts_per_minute = -1\n",
         "ussd.per_number_starts_per_minute must not be negative (0 = no limit)"),
        ("[ussd]\nhop_deadline_seconds = 12\n",
         "ussd.hop_deadline_seconds must be positive and well under Africa's Talking's 10 s"),
        ('[staff]\ntime_zone = "EAT"\n',
         'staff.time_zone must be an IANA time zone name, e.g. "Africa/Nairobi" or "UTC", '
         'got "EAT" (from settings.toml)'),
        ('[staff]\ntime_zone = "../../etc/passwd"\n', "staff.time_zone must be an IANA time"),
    ],
)  # fmt: skip
def test_bad_file_values_name_the_key_and_the_file(in_tmp: Path, toml: str, message: str) -> None:
    write(in_tmp / "settings.toml", toml)

    with pytest.raises(SettingsError) as raised:
        load_settings({"GATEWAY_SECRET_KEY": KEY})

    assert message in str(raised.value)


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[app]\nsecret_key = "s3cr3t-but-committed"\n', "app.secret_key"),
        ('secret_key = "s3cr3t-but-committed"\n', "secret_key"),
        ('[sms]\nat_api_key = "abc"\n', "sms.at_api_key"),
        ('[twilio]\nauth_token = "abc"\n', "twilio.auth_token"),
        ('[sms]\nwebhook_token = "abc"\n', "sms.webhook_token"),
    ],
)
def test_a_secret_in_the_settings_file_is_refused(in_tmp: Path, toml: str, key: str) -> None:
    write(in_tmp / "settings.toml", toml)

    with pytest.raises(SettingsError) as raised:
        load_settings({"GATEWAY_SECRET_KEY": KEY})

    assert str(raised.value).startswith(f"{key} must not be in settings.toml")
    assert "GATEWAY_SECRET_KEY" in str(raised.value)


def test_sms_commands_given_in_part_keep_the_other_defaults_and_keywords_are_free_words(
    in_tmp: Path,
) -> None:
    write(in_tmp / "settings.toml",
          '[sms.commands]\nstop = ["HALT"]\n[sms.keywords]\nTOKEN = "survey:sw"\n')

    sms = load_settings({"GATEWAY_SECRET_KEY": KEY}).sms

    assert sms.commands["stop"] == ("HALT",) and "MSAADA" in sms.commands["help"]
    assert sms.keywords == {"TOKEN": "survey:sw"}


def test_an_explicit_settings_path_must_exist(in_tmp: Path) -> None:
    with pytest.raises(SettingsError, match="settings file nowhere.toml does not exist"):
        load_settings({"GATEWAY_SECRET_KEY": KEY, "GATEWAY_SETTINGS": "nowhere.toml"})


def test_contradicting_environment_names_are_refused(in_tmp: Path) -> None:
    environ = {"GATEWAY_SECRET_KEY": KEY, "GATEWAY_ENV": "production", "GATEWAY_APP_ENV": "dev"}

    with pytest.raises(
        SettingsError, match="GATEWAY_ENV='production' contradicts GATEWAY_APP_ENV='dev'"
    ):
        load_settings(environ)


@pytest.mark.parametrize(
    ("secret", "why"),
    [
        (None, "is not set"),
        ("", "is not set"),
        ("changeme", "placeholder"),
        ("dev", "placeholder"),
        ("CHANGE-ME-change-me-CHANGE-ME-change-me", "placeholder"),
        ("my-production-secret-goes-here-please", "placeholder"),
        ("a" * 64, "placeholder"),
        ("Zq8-rT2p", "too short (8 characters)"),
    ],
)
def test_production_refuses_a_missing_or_placeholder_secret(
    in_tmp: Path, secret: str | None, why: str
) -> None:
    environ = {"GATEWAY_ENV": "production"}
    if secret is not None:
        environ["GATEWAY_SECRET_KEY"] = secret

    with pytest.raises(SettingsError) as raised:
        load_settings(environ)

    assert str(raised.value).startswith("GATEWAY_SECRET_KEY ")
    assert why in str(raised.value)
    assert not (in_tmp / "var").exists()  # nothing generated in production


def test_production_from_the_settings_file_accepts_a_real_secret(in_tmp: Path) -> None:
    write(in_tmp / "settings.toml", '[app]\nenv = "production"\n')
    real = "Jx3uV9-qLw2_Zr8TnBf5YcKd0HsPmA7e"

    settings = load_settings({"GATEWAY_SECRET_KEY": real})

    assert settings.is_production and settings.secret_key == real


def test_development_generates_a_private_secret_once(
    in_tmp: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        first = load_settings({})
        second = load_settings({})

    path = in_tmp / "var" / "secret_key"
    assert first.secret_key == second.secret_key == path.read_text().strip()
    assert len(first.secret_key) >= 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    generated = [r for r in caplog.records if "generated a development secret key" in r.message]
    assert [r.getMessage() for r in generated] == [
        "generated a development secret key in var/secret_key"
    ]


def test_development_uses_the_environment_secret_when_set(in_tmp: Path) -> None:
    assert load_settings({"GATEWAY_SECRET_KEY": "short-is-fine-in-dev"}).secret_key == (
        "short-is-fine-in-dev"
    )
    assert not (in_tmp / "var").exists()


# A valid value different from the default, for every key of every section. A key added to a
# section without a value here fails the test below: every key must be overridable.
OVERRIDES = {
    ("app", "env"): ("production", "production"),
    ("app", "host"): ("0.0.0.0", "0.0.0.0"),
    ("app", "port"): ("9001", 9001),
    ("app", "flows_dir"): ("/srv/flows", "/srv/flows"),
    ("app", "var_dir"): ("data", "data"),
    ("app", "max_body_bytes"): ("4096", 4096),
    ("languages", "default"): ("sw", "sw"),
    ("languages", "supported"): ("sw,en", ("sw", "en")),
    ("ussd", "session_ttl_seconds"): ("120", 120),
    ("ussd", "resume_window_seconds"): ("900", 900),
    ("ussd", "per_number_starts_per_minute"): ("5", 5),
    ("ussd", "hop_deadline_seconds"): ("1.5", 1.5),
    ("ussd", "routes"): ("*9#=survey", {"*9#": "survey"}),
    ("runs", "drain_interval_seconds"): ("0.5", 0.5),
    ("reports", "areas_file"): ("/srv/areas.toml", "/srv/areas.toml"),
    ("reports", "duplicate_window_hours"): ("24", 24),
    ("reports", "reopen_days"): ("7", 7),
    ("staff", "idle_timeout_minutes"): ("10", 10),
    ("staff", "absolute_timeout_hours"): ("8", 8),
    ("staff", "lockout_attempts"): ("3", 3),
    ("staff", "lockout_minutes"): ("60", 60),
    ("staff", "small_group"): ("10", 10),
    ("staff", "recipient_cap"): ("500", 500),
    ("staff", "live_refresh_seconds"): ("15", 15),
    ("staff", "time_zone"): ("Africa/Lagos", "Africa/Lagos"),
    ("sms", "session_ttl_seconds"): ("3600", 3600),
    ("sms", "help_interval_seconds"): ("60", 60),
    ("sms", "max_inbound_chars"): ("480", 480),
    ("sms", "dedupe_seconds"): ("600", 600),
    ("sms", "per_number_per_minute"): ("0", 0),
    ("sms", "per_number_burst"): ("3", 3),
    ("sms", "webhook_token"): ("s3cret-token", "s3cret-token"),
    ("sms", "transliterate"): ("false", False),
    ("sms", "keywords"): ("MAJI=survey:sw", {"MAJI": "survey:sw"}),
    ("sms", "commands"): (
        '{"stop": ["STOP"], "start": ["START"], "help": ["HELP"]}',
        {"stop": ("STOP",), "start": ("START",), "help": ("HELP",)},
    ),
    ("africastalking", "api_url"): ("http://10.0.0.9:8001", "http://10.0.0.9:8001"),
    ("africastalking", "sender_id"): ("CIVIC", "CIVIC"),
    ("africastalking", "timeout_seconds"): ("2.5", 2.5),
    ("twilio", "api_url"): ("http://10.0.0.9:8001", "http://10.0.0.9:8001"),
    ("twilio", "numbers"): ("+254700000001,+254700000002", ("+254700000001", "+254700000002")),
    ("twilio", "messaging_service_sid"): ("MG0123", "MG0123"),
    ("twilio", "timeout_seconds"): ("3", 3.0),
    ("emulator", "host"): ("0.0.0.0", "0.0.0.0"),
    ("emulator", "port"): ("9002", 9002),
    ("emulator", "gateway_url"): ("http://10.0.0.8:8000", "http://10.0.0.8:8000"),
    ("emulator", "messages_path"): ("/tmp/emulated.jsonl", "/tmp/emulated.jsonl"),
    ("emulator", "deliver_reports"): ("false", False),
    ("reports", "agency"): ("Kisumu County", "Kisumu County"),
    ("emulator", "report_delay_seconds"): ("0", 0.0),
    ("outbox", "africastalking_per_second"): ("200", 200.0),
    ("outbox", "twilio_per_second"): ("2.5", 2.5),
    ("outbox", "max_attempts"): ("3", 3),
    ("outbox", "retry_intervals"): ("1,2,30", (1, 2, 30)),
    ("outbox", "sweep_interval_seconds"): ("0.5", 0.5),
    ("outbox", "sweep_after_seconds"): ("30", 30),
    ("outbox", "send_lease_seconds"): ("45", 45),
    ("outbox", "batch_size"): ("250", 250),
    ("outbox", "africastalking_segment_price"): ("0.9", 0.9),
    ("outbox", "africastalking_currency"): ("UGX", "UGX"),
    ("outbox", "twilio_segment_price"): ("0.05", 0.05),
    ("outbox", "twilio_currency"): ("EUR", "EUR"),
}


def every_key() -> list[tuple[str, str]]:
    return [(name, f.name) for name, cls in SECTIONS.items() for f in fields(cls)]


@pytest.mark.parametrize(("section", "key"), every_key())
def test_every_key_can_be_overridden_from_the_environment(
    in_tmp: Path, section: str, key: str
) -> None:
    assert (section, key) in OVERRIDES, f"add an override case for {section}.{key}"
    text, value = OVERRIDES[(section, key)]
    real = "Jx3uV9-qLw2_Zr8TnBf5YcKd0HsPmA7e"  # production needs a real key

    name = f"GATEWAY_{section.upper()}_{key.upper()}"  # the contract's naming rule

    base = load_settings({"GATEWAY_SECRET_KEY": real}, path=REPO / "settings.toml")
    settings = load_settings({"GATEWAY_SECRET_KEY": real, name: text}, path=REPO / "settings.toml")

    assert getattr(getattr(base, section), key) != value
    assert getattr(getattr(settings, section), key) == value
