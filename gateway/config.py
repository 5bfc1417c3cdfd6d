"""Settings: one typed, frozen object built from defaults, then settings.toml, then the environment.

Every key of settings.toml can be overridden by `GATEWAY_<SECTION>_<KEY>` (upper-case), converted
to the type of the key's default. Secrets and connection URLs come from the environment only.
Errors name the key and where its value came from, e.g. `ussd.resume_window_seconds must be an
integer, got "ten" (from GATEWAY_USSD_RESUME_WINDOW_SECONDS)`.
An empty environment variable counts as unset.
"""

from __future__ import annotations

import json
import math
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gateway.secret import SecretKeyError, resolve_secret_key

ENVIRONMENTS = ("development", "production")
# Key names that betray a secret; settings.toml is committed and shared, so they are refused there.
_SECRET_HINTS = ("secret", "password", "token", "api_key", "apikey", "account_sid", "username")
_SECRET_ENV = "GATEWAY_SECRET_KEY, AT_USERNAME, AT_API_KEY, TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN"
_REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_DATABASE_EXAMPLES = "use e.g. postgresql+psycopg://user@host/gateway or sqlite:///var/gateway.db"


class SettingsError(Exception):
    """A setting is missing or wrong; the message names the key and where the value came from."""


@dataclass(frozen=True)
class AppSettings:
    env: str = "development"
    host: str = "127.0.0.1"
    port: int = 8000
    flows_dir: str = "flows"
    var_dir: str = "var"
    max_body_bytes: int = 32768


@dataclass(frozen=True)
class LanguageSettings:
    default: str = "en"
    supported: tuple[str, ...] = ("en", "sw", "fr")


@dataclass(frozen=True)
class UssdSettings:
    session_ttl_seconds: int = 300
    resume_window_seconds: int = 600
    per_number_starts_per_minute: int = 10  # sessions one number may start a minute; 0 = no limit
    hop_deadline_seconds: float = 0.5  # a hop not answered by then gets 503 (Redis down or sick)
    routes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RunsSettings:
    drain_interval_seconds: float = 1.0


@dataclass(frozen=True)
class ReportsSettings:
    areas_file: str = ""  # "" = the bundled gateway/areas data (see gateway/areas/README.md)
    duplicate_window_hours: int = 72  # same category and ward within this -> linked to the first
    reopen_days: int = 14  # a reporter may reopen a resolved report this long after
    agency: str = ""  # the council's name: Open311 agency_responsible when no department is set


@dataclass(frozen=True)
class StaffSettings:
    idle_timeout_minutes: int = 30  # a staff session unused this long ends
    absolute_timeout_hours: int = 12  # and any staff session ends this long after login
    lockout_attempts: int = 5  # wrong passwords in a row before the account locks
    lockout_minutes: int = 15  # how long it stays locked
    small_group: int = 5  # a results cell with fewer people shows "fewer than 5"
    recipient_cap: int = 1000  # a broadcast to more recipients needs a second confirmation
    live_refresh_seconds: int = 5  # how often an open results page fetches new figures
    time_zone: str = "Africa/Nairobi"  # staff pages show and read times in this IANA zone


class WordLists(dict[str, tuple[str, ...]]):
    """A table of word lists, e.g. [sms.commands]: `stop = ["STOP", "ACHA"]`."""


SMS_COMMANDS = ("stop", "start", "help")


def _default_commands() -> WordLists:
    return WordLists(
        stop=("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "ACHA", "SITISHA",
              "ARRET", "ARRÊT"),
        start=("START", "UNSTOP", "ANZA", "DEMARRER", "DÉMARRER"),
        help=("HELP", "INFO", "MSAADA", "AIDE"),
    )


@dataclass(frozen=True)
class SmsSettings:
    session_ttl_seconds: int = 86400
    help_interval_seconds: int = 86400
    max_inbound_chars: int = 1600
    dedupe_seconds: int = 172800
    per_number_per_minute: int = 10  # inbound SMS one number may send a minute; 0 = no limit
    per_number_burst: int = 10  # ...and at once, before the per-minute rate applies
    webhook_token: str = ""  # environment only: GATEWAY_SMS_WEBHOOK_TOKEN
    transliterate: bool = True
    keywords: dict[str, str] = field(default_factory=dict)  # keyword -> "flow" or "flow:lang"
    commands: WordLists = field(default_factory=_default_commands)


class Seconds(tuple[int, ...]):
    """A list of whole seconds, e.g. [outbox] retry_intervals = [5, 15, 60]."""


@dataclass(frozen=True)
class OutboxSettings:
    """The outbound SMS queue (gateway.outbox); prices are estimates per segment, per provider."""

    africastalking_per_second: float = 50.0
    twilio_per_second: float = 10.0
    max_attempts: int = 6
    retry_intervals: Seconds = Seconds((5, 15, 60, 300, 900))
    sweep_interval_seconds: float = 5.0
    sweep_after_seconds: int = 60
    send_lease_seconds: int = 120
    batch_size: int = 500  # per bulk job, at most 0.5 s of the throttle (outbox.bulk_job_size)
    africastalking_segment_price: float = 0.8
    africastalking_currency: str = "KES"
    twilio_segment_price: float = 0.0079
    twilio_currency: str = "USD"


# The emulator's fixed development credentials (`gateway emulator`; never valid at a provider).
DEV_AT_USERNAME = "sandbox"
DEV_AT_API_KEY = "emulator"
DEV_TWILIO_ACCOUNT_SID = "ACemulator0000000000000000000000"
DEV_TWILIO_AUTH_TOKEN = "emulator-token"
EMULATOR_TWILIO_NUMBER = "+15005550006"  # our Twilio number when the emulator plays Twilio


@dataclass(frozen=True)
class AfricasTalkingSettings:
    api_url: str = ""  # "" = the real API (development without credentials: the emulator)
    sender_id: str = ""  # shortcode or alphanumeric sender; "" = the account's default
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class TwilioSettings:
    api_url: str = ""  # "" = the real API (development without credentials: the emulator)
    numbers: tuple[str, ...] = ()  # our numbers (E.164): replies go from the first
    messaging_service_sid: str = ""
    timeout_seconds: float = 10.0


@dataclass(frozen=True)
class EmulatorSettings:
    host: str = "127.0.0.1"
    port: int = 8001
    gateway_url: str = ""  # where it posts inbound SMS, USSD hops, reports; "" = app host:port
    messages_path: str = ""  # JSONL of every accepted message; "" = VAR_DIR/emulator/messages.jsonl
    deliver_reports: bool = True
    report_delay_seconds: float = 0.2  # before the "sent" report; "delivered" follows as long

    @property
    def url(self) -> str:
        return f"http://{_reachable(self.host)}:{self.port}"


def _reachable(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


@dataclass(frozen=True, kw_only=True)
class Settings:
    secret_key: str
    app: AppSettings = field(default_factory=AppSettings)
    languages: LanguageSettings = field(default_factory=LanguageSettings)
    ussd: UssdSettings = field(default_factory=UssdSettings)
    runs: RunsSettings = field(default_factory=RunsSettings)
    reports: ReportsSettings = field(default_factory=ReportsSettings)
    staff: StaffSettings = field(default_factory=StaffSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    sms: SmsSettings = field(default_factory=SmsSettings)
    africastalking: AfricasTalkingSettings = field(default_factory=AfricasTalkingSettings)
    twilio: TwilioSettings = field(default_factory=TwilioSettings)
    emulator: EmulatorSettings = field(default_factory=EmulatorSettings)
    redis_url: str | None = None
    database_url: str = "sqlite:///var/gateway.db"
    public_url: str | None = None
    # Provider credentials, from the environment only (development: the emulator's, if unset).
    at_username: str = ""
    at_api_key: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    emulated: tuple[str, ...] = ()  # providers pointed at the emulator because nothing was set

    @property
    def is_production(self) -> bool:
        return self.app.env == "production"


SECTIONS: dict[str, type] = {
    "app": AppSettings,
    "languages": LanguageSettings,
    "ussd": UssdSettings,
    "runs": RunsSettings,
    "reports": ReportsSettings,
    "staff": StaffSettings,
    "outbox": OutboxSettings,
    "sms": SmsSettings,
    "africastalking": AfricasTalkingSettings,
    "twilio": TwilioSettings,
    "emulator": EmulatorSettings,
}


def _time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ValueError, ZoneInfoNotFoundError):
        return False
    return True


def _positive(value: Any) -> bool:
    return value > 0


# (section, key, holds, what it must be) — checked after types, so the predicates see typed values.
_CHECKS: tuple[tuple[str, str, Callable[[Any], bool], str], ...] = (
    ("app", "env", lambda v: v in ENVIRONMENTS, "must be one of " + ", ".join(ENVIRONMENTS)),
    ("app", "port", lambda v: 1 <= v <= 65535, "must be a port number from 1 to 65535"),
    ("app", "max_body_bytes", _positive, "must be positive"),
    ("languages", "supported", bool, "must list at least one language"),
    ("ussd", "session_ttl_seconds", _positive, "must be positive"),
    ("ussd", "resume_window_seconds", _positive, "must be positive"),
    ("ussd", "per_number_starts_per_minute", lambda v: v >= 0,
     "must not be negative (0 = no limit)"),
    ("ussd", "hop_deadline_seconds", lambda v: 0 < v < 10,
     "must be positive and well under Africa's Talking's 10 s timeout"),
    ("runs", "drain_interval_seconds", _positive, "must be positive"),
    ("reports", "duplicate_window_hours", lambda v: v >= 0, "must not be negative"),
    ("reports", "reopen_days", lambda v: v >= 0, "must not be negative"),
    ("staff", "idle_timeout_minutes", _positive, "must be positive"),
    ("staff", "absolute_timeout_hours", _positive, "must be positive"),
    ("staff", "lockout_attempts", _positive, "must be positive"),
    ("staff", "lockout_minutes", _positive, "must be positive"),
    ("staff", "small_group", _positive, "must be positive"),
    ("staff", "recipient_cap", _positive, "must be positive"),
    ("staff", "live_refresh_seconds", _positive, "must be positive"),
    ("staff", "time_zone", _time_zone,
     'must be an IANA time zone name, e.g. "Africa/Nairobi" or "UTC"'),
    ("outbox", "africastalking_per_second", _positive, "must be positive"),
    ("outbox", "twilio_per_second", _positive, "must be positive"),
    ("outbox", "max_attempts", _positive, "must be positive"),
    ("outbox", "retry_intervals", lambda v: bool(v) and all(s >= 0 for s in v),
     "must list at least one interval, none negative"),
    ("outbox", "sweep_interval_seconds", _positive, "must be positive"),
    ("outbox", "sweep_after_seconds", _positive, "must be positive"),
    ("outbox", "send_lease_seconds", _positive, "must be positive"),
    ("outbox", "batch_size", lambda v: 1 <= v <= 1000, "must be from 1 to 1000"),
    ("outbox", "africastalking_segment_price", lambda v: v >= 0, "must not be negative"),
    ("outbox", "twilio_segment_price", lambda v: v >= 0, "must not be negative"),
    ("sms", "session_ttl_seconds", _positive, "must be positive"),
    ("sms", "help_interval_seconds", _positive, "must be positive"),
    ("sms", "max_inbound_chars", _positive, "must be positive"),
    ("sms", "dedupe_seconds", _positive, "must be positive"),
    ("sms", "per_number_per_minute", lambda v: v >= 0, "must not be negative (0 = no limit)"),
    ("sms", "per_number_burst", _positive, "must be positive"),
    ("sms", "keywords", lambda v: all(_keyword_target(t) for t in v.values()),
     'must map keywords to "flow" or "flow:language", e.g. KURA = "budget:sw"'),
    ("africastalking", "api_url", lambda v: _http_url(v, empty=True), "must be an http(s) URL"),
    ("africastalking", "timeout_seconds", _positive, "must be positive"),
    ("twilio", "api_url", lambda v: _http_url(v, empty=True), "must be an http(s) URL"),
    ("twilio", "numbers", lambda v: all(n.startswith("+") for n in v),
     'must list E.164 numbers, e.g. ["+15005550006"]'),
    ("twilio", "timeout_seconds", _positive, "must be positive"),
    ("emulator", "port", lambda v: 1 <= v <= 65535, "must be a port number from 1 to 65535"),
    ("emulator", "gateway_url", lambda v: _http_url(v, empty=True), "must be an http(s) URL"),
    ("emulator", "report_delay_seconds", lambda v: v >= 0, "must not be negative"),
)


def _keyword_target(target: str) -> bool:
    flow, _, language = target.partition(":")
    return bool(flow.strip()) and (":" not in target or bool(language.strip()))


def _http_url(value: str, *, empty: bool) -> bool:
    return (empty and value == "") or value.startswith(("http://", "https://"))


def env_name(section: str, key: str) -> str:
    return f"GATEWAY_{section.upper()}_{key.upper()}"


def load_settings(
    environ: Mapping[str, str] = os.environ,
    path: str | Path | None = None,
    *,
    secret: bool = True,
) -> Settings:
    """Build the settings; `path` (else GATEWAY_SETTINGS, else ./settings.toml) may be absent.

    `secret=False` is for commands that never pseudonymise a number (`gateway flows check`,
    `gateway results`): no key is generated or required, and `secret_key` is "".
    """
    explicit = path or environ.get("GATEWAY_SETTINGS") or None
    toml_path = Path(explicit or "settings.toml")
    table = _read_toml(toml_path, required=explicit is not None)
    sections = {
        name: _build_section(name, cls, table.pop(name, {}), str(toml_path), environ)
        for name, cls in SECTIONS.items()
    }
    if table:
        key = next(iter(table))
        raise SettingsError(f"unknown setting {key} (in {toml_path})")
    app: AppSettings = sections["app"]
    secret_key = _secret_key(environ, app) if secret else ""
    providers = _providers(environ, sections)
    return Settings(
        secret_key=secret_key,
        redis_url=_redis_url(environ),
        database_url=_database_url(environ, app),
        public_url=environ.get("GATEWAY_PUBLIC_URL") or None,
        **sections,
        **providers,
    )


# Env-only provider credentials, in pairs: (Settings field, variable) per provider.
PROVIDER_CREDENTIALS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    "africastalking": (("at_username", "AT_USERNAME"), ("at_api_key", "AT_API_KEY")),
    "twilio": (
        ("twilio_account_sid", "TWILIO_ACCOUNT_SID"),
        ("twilio_auth_token", "TWILIO_AUTH_TOKEN"),
    ),
}
_DEV_CREDENTIALS = {
    "at_username": DEV_AT_USERNAME,
    "at_api_key": DEV_AT_API_KEY,
    "twilio_account_sid": DEV_TWILIO_ACCOUNT_SID,
    "twilio_auth_token": DEV_TWILIO_AUTH_TOKEN,
}


def _providers(environ: Mapping[str, str], sections: dict[str, Any]) -> dict[str, Any]:
    """Credentials from the environment; development without them uses the emulator's.

    A provider with neither credentials nor `api_url` is pointed at the emulator (and listed in
    `emulated`, so `gateway run` starts it). Fills `emulator.gateway_url` and `messages_path`.
    Half a pair of credentials is refused in every mode. `sections` is updated in place.
    """
    app: AppSettings = sections["app"]
    emulator: EmulatorSettings = sections["emulator"]
    emulator = replace(
        emulator,
        gateway_url=emulator.gateway_url or f"http://{_reachable(app.host)}:{app.port}",
        messages_path=emulator.messages_path or f"{app.var_dir}/emulator/messages.jsonl",
    )
    sections["emulator"] = emulator
    values: dict[str, Any] = {}
    emulated: list[str] = []
    for provider, pair in PROVIDER_CREDENTIALS.items():
        given = {name: environ.get(var, "").strip() for name, var in pair}
        (first, first_var), (second, second_var) = pair
        if bool(given[first]) != bool(given[second]):
            have, missing = (first_var, second_var) if given[first] else (second_var, first_var)
            raise SettingsError(f"{missing} is not set, but {have} is: set both or neither")
        values.update(given)
        if given[first] or app.env == "production":
            continue
        values.update({name: _DEV_CREDENTIALS[name] for name, _ in pair})
        section = sections[provider]
        if not section.api_url:
            section = replace(section, api_url=emulator.url)
            emulated.append(provider)
        if provider == "twilio" and not (section.numbers or section.messaging_service_sid):
            section = replace(section, numbers=(EMULATOR_TWILIO_NUMBER,))
        sections[provider] = section
    return {**values, "emulated": tuple(emulated)}


def provider_problems(settings: Settings) -> list[str]:
    """Why production cannot send the SMS it is configured for (empty: it can).

    Twilio is in use when `twilio.numbers` or `twilio.messaging_service_sid` is set; SMS
    keywords need at least one provider with credentials (Africa's Talking by default).
    """
    if not settings.is_production:
        return []
    problems = []
    twilio_ready = bool(settings.twilio_account_sid and settings.twilio_auth_token)
    at_ready = bool(settings.at_username and settings.at_api_key)
    twilio_used = bool(settings.twilio.numbers or settings.twilio.messaging_service_sid)
    if twilio_used and not twilio_ready:
        problems.append(
            "twilio.numbers or twilio.messaging_service_sid is set, but TWILIO_ACCOUNT_SID and "
            "TWILIO_AUTH_TOKEN are not"
        )
    if settings.sms.keywords and not (at_ready or twilio_ready):
        problems.append(
            "sms.keywords route SMS to flows, but no provider has credentials: set AT_USERNAME "
            "and AT_API_KEY (or Twilio's TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)"
        )
    return problems


def _secret_key(environ: Mapping[str, str], app: AppSettings) -> str:
    try:
        return resolve_secret_key(
            environ, var_dir=Path(app.var_dir), production=app.env == "production"
        )
    except SecretKeyError as error:
        raise SettingsError(str(error)) from None


def _redis_url(environ: Mapping[str, str]) -> str | None:
    url = environ.get("REDIS_URL") or None
    if url is not None and not url.startswith(_REDIS_SCHEMES):
        raise SettingsError(
            "REDIS_URL must start with redis://, rediss:// or unix:// "
            "(or be unset, and `gateway run` starts an embedded Redis)"
        )
    return url


def _database_url(environ: Mapping[str, str], app: AppSettings) -> str:
    """DATABASE_URL (else SQLite under the var dir), checked now so a typo stops start-up.

    The message never repeats the URL: it may hold a password.
    """
    from sqlalchemy.exc import ArgumentError

    from gateway.db import database_url

    url = environ.get("DATABASE_URL") or f"sqlite:///{app.var_dir}/gateway.db"
    try:
        parsed = database_url(url)
    except ArgumentError:
        raise SettingsError(f"DATABASE_URL is not a database URL; {_DATABASE_EXAMPLES}") from None
    if parsed.get_backend_name() != "sqlite" and parsed.drivername != "postgresql+psycopg":
        raise SettingsError(
            f"DATABASE_URL: {parsed.drivername} is not supported; {_DATABASE_EXAMPLES}"
        )
    return url


def _read_toml(path: Path, *, required: bool) -> dict[str, Any]:
    try:
        with path.open("rb") as file:
            table = tomllib.load(file)
    except FileNotFoundError:
        if required:
            raise SettingsError(f"settings file {path} does not exist") from None
        return {}
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SettingsError(f"cannot read {path}: {error}") from None
    _refuse_secrets(table, (), path)
    return table


def _refuse_secrets(table: Mapping[str, Any], prefix: tuple[str, ...], path: Path) -> None:
    for key, value in table.items():
        name = ".".join((*prefix, key))
        if any(hint in key.lower() for hint in _SECRET_HINTS):
            raise SettingsError(
                f"{name} must not be in {path}: secrets come only from the environment "
                f"({_SECRET_ENV})"
            )
        free_keys = (prefix, key) in ((("ussd",), "routes"), (("sms",), "keywords"))
        if isinstance(value, dict) and not free_keys:
            _refuse_secrets(value, (*prefix, key), path)


def _build_section(
    section: str, cls: type, table: Any, toml_path: str, environ: Mapping[str, str]
) -> Any:
    if not isinstance(table, dict):
        raise SettingsError(f"{section} must be a table (in {toml_path})")
    defaults = cls()
    unknown = set(table) - {f.name for f in fields(cls)}
    if unknown:
        raise SettingsError(f"unknown setting {section}.{sorted(unknown)[0]} (in {toml_path})")
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for f in fields(cls):
        default = getattr(defaults, f.name)
        value, origin = default, "default"
        if f.name in table:
            value, origin = table[f.name], toml_path
        env_value, env_origin = _env_override(section, f.name, environ)
        if env_value is not None:
            value, origin = env_value, env_origin
        name = f"{section}.{f.name}"
        values[f.name] = _coerce(value, default, name, origin, env_value is not None)
        origins[f.name] = origin
        _check(section, f.name, values[f.name], origin)
    if section == "languages" and values["default"] not in values["supported"]:
        raise SettingsError(
            f"languages.default {_show(values['default'])} (from {origins['default']}) is not "
            f"in languages.supported {_show(values['supported'])} (from {origins['supported']})"
        )
    return cls(**values)


def _env_override(section: str, key: str, environ: Mapping[str, str]) -> tuple[str | None, str]:
    name = env_name(section, key)
    value = environ.get(name) or None
    if section == "app" and key == "env":  # plain GATEWAY_ENV is accepted too
        alias = environ.get("GATEWAY_ENV") or None
        if alias and value and alias != value:
            raise SettingsError(f"GATEWAY_ENV={alias!r} contradicts {name}={value!r}")
        if alias and not value:
            return alias, "GATEWAY_ENV"
    return value, name


def _check(section: str, key: str, value: Any, origin: str) -> None:
    for check_section, check_key, holds, requirement in _CHECKS:
        if (check_section, check_key) == (section, key) and not holds(value):
            raise SettingsError(
                f"{section}.{key} {requirement}, got {_show(value)} (from {origin})"
            )


def _coerce(value: Any, default: Any, name: str, origin: str, from_env: bool) -> Any:
    """Convert `value` to the type of `default`; text from the environment is parsed first."""
    kind = type(default)
    try:
        if from_env:
            value = _PARSERS[kind](value)
        if kind is WordLists:  # lists not given keep their defaults
            return _as_word_lists(value, default)
        return _VALIDATORS[kind](value)
    except (TypeError, ValueError):
        raise SettingsError(
            f"{name} must be {_DESCRIPTIONS[kind]}, got {_show(value)} (from {origin})"
        ) from None


def _show(value: Any) -> str:
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value, ensure_ascii=False, default=str)


def _parse_bool(text: str) -> bool | str:
    word = text.strip().lower()
    if word in ("true", "yes", "on", "1"):
        return True
    if word in ("false", "no", "off", "0"):
        return False
    return text


def _parse_list(text: str) -> Any:
    if text.lstrip().startswith("["):
        return json.loads(text)
    return [part.strip() for part in text.split(",") if part.strip()]


def _parse_mapping(text: str) -> Any:
    """`{"*384*1#": "budget"}` (JSON) or `*384*1#=budget,*384*3#=survey`."""
    if text.lstrip().startswith("{"):
        return json.loads(text)
    pairs = [part.split("=", 1) for part in text.split(",") if part.strip()]
    if any(len(pair) != 2 for pair in pairs):
        raise ValueError(text)
    return {code.strip(): flow.strip() for code, flow in pairs}


def _as_bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(value)
    return value


def _as_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(value)
    return value


def _as_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise TypeError(value)
    return float(value)


def _as_str(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(value)
    return value


def _as_words(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        raise TypeError(value)
    return tuple(value)


def _as_mapping(value: Any) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and k and isinstance(v, str) and v for k, v in value.items()
    ):
        raise TypeError(value)
    return dict(value)


def _as_word_lists(value: Any, default: WordLists) -> WordLists:
    if not isinstance(value, dict) or not set(value) <= set(default):
        raise TypeError(value)
    return WordLists({**default, **{name: _as_words(words) for name, words in value.items()}})


def _as_seconds(value: Any) -> Seconds:
    if not isinstance(value, list | tuple):
        raise TypeError(value)
    return Seconds(_as_int(int(v) if isinstance(v, str) else v) for v in value)


def _parse_int(text: str) -> int:
    return int(text.strip())


def _parse_float(text: str) -> float:
    return float(text.strip())


_PARSERS: dict[type, Callable[[str], Any]] = {
    bool: _parse_bool,
    int: _parse_int,
    float: _parse_float,
    str: str,
    tuple: _parse_list,
    dict: _parse_mapping,
    Seconds: _parse_list,
    WordLists: json.loads,
}
_VALIDATORS: dict[type, Callable[[Any], Any]] = {
    bool: _as_bool,
    int: _as_int,
    float: _as_float,
    str: _as_str,
    tuple: _as_words,
    dict: _as_mapping,
    Seconds: _as_seconds,
}
_DESCRIPTIONS = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    str: "a string",
    tuple: "a list of non-empty strings",
    dict: 'a table of non-empty strings (in the environment: JSON or "key=value,key=value")',
    Seconds: 'a list of whole seconds (in the environment: JSON or "5,15,60")',
    WordLists: 'a table of lists of words (in the environment: JSON, {"stop": ["STOP"]})',
}
