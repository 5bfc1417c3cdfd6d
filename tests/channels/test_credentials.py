"""Provider credentials: environment only; development falls back to the emulator's."""

from __future__ import annotations

from pathlib import Path

import pytest
from emulator_support import REPO, sms_settings

from gateway.config import (
    DEV_AT_API_KEY,
    DEV_AT_USERNAME,
    DEV_TWILIO_ACCOUNT_SID,
    DEV_TWILIO_AUTH_TOKEN,
    EMULATOR_TWILIO_NUMBER,
    Settings,
    SettingsError,
    load_settings,
    provider_problems,
)
from gateway.runtime import StartupError, load_content

REAL_KEY = "Jx3uV9-qLw2_Zr8TnBf5YcKd0HsPmA7e"
AT = {"AT_USERNAME": "civic", "AT_API_KEY": "atsk_" + "9" * 40}
TWILIO = {"TWILIO_ACCOUNT_SID": "AC" + "1" * 32, "TWILIO_AUTH_TOKEN": "f" * 32}


def test_development_without_credentials_uses_the_emulator(tmp_path: Path) -> None:
    settings = sms_settings(tmp_path)

    assert settings.emulated == ("africastalking", "twilio")
    assert settings.africastalking.api_url == settings.twilio.api_url == "http://127.0.0.1:8001"
    assert (settings.at_username, settings.at_api_key) == (DEV_AT_USERNAME, DEV_AT_API_KEY)
    assert (settings.twilio_account_sid, settings.twilio_auth_token) == (
        DEV_TWILIO_ACCOUNT_SID, DEV_TWILIO_AUTH_TOKEN
    )
    assert settings.twilio.numbers == (EMULATOR_TWILIO_NUMBER,)
    assert settings.emulator.gateway_url == "http://127.0.0.1:8000"
    assert settings.emulator.messages_path == f"{tmp_path}/var/emulator/messages.jsonl"


def test_the_emulator_url_follows_its_port_and_the_gateway_url_the_app(tmp_path: Path) -> None:
    settings = sms_settings(
        tmp_path, GATEWAY_EMULATOR_PORT="9100", GATEWAY_APP_PORT="9000", GATEWAY_APP_HOST="0.0.0.0"
    )

    assert settings.africastalking.api_url == "http://127.0.0.1:9100"
    assert settings.emulator.gateway_url == "http://127.0.0.1:9000"


def test_real_credentials_point_that_provider_at_the_real_api(tmp_path: Path) -> None:
    settings = sms_settings(tmp_path, **AT)

    assert settings.emulated == ("twilio",)
    assert settings.africastalking.api_url == ""
    assert (settings.at_username, settings.at_api_key) == (AT["AT_USERNAME"], AT["AT_API_KEY"])


def test_an_api_url_without_credentials_keeps_the_development_credentials(
    tmp_path: Path,
) -> None:
    settings = sms_settings(tmp_path, GATEWAY_TWILIO_API_URL="http://127.0.0.1:9999")

    assert settings.emulated == ("africastalking",)  # `gateway run` starts no emulator for it
    assert settings.twilio.api_url == "http://127.0.0.1:9999"
    assert settings.twilio_auth_token == DEV_TWILIO_AUTH_TOKEN


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"AT_USERNAME": "civic"}, "AT_API_KEY is not set, but AT_USERNAME is"),
        ({"AT_API_KEY": "k"}, "AT_USERNAME is not set, but AT_API_KEY is"),
        ({"TWILIO_ACCOUNT_SID": "AC1"}, "TWILIO_AUTH_TOKEN is not set, but TWILIO_ACCOUNT_SID is"),
    ],
)
def test_half_a_pair_of_credentials_is_refused(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        sms_settings(tmp_path, **env)


def production(tmp_path: Path, **env: str) -> Settings:
    return sms_settings(tmp_path, GATEWAY_ENV="production", GATEWAY_SECRET_KEY=REAL_KEY, **env)


def test_production_never_falls_back_to_the_emulator(tmp_path: Path) -> None:
    settings = production(tmp_path)

    assert settings.emulated == () and settings.africastalking.api_url == ""
    assert settings.at_api_key == "" and settings.twilio.numbers == ()


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({}, "sms.keywords route SMS to flows, but no provider has credentials: set AT_USERNAME"),
        ({"GATEWAY_TWILIO_NUMBERS": "+15005550006", **AT},
         "twilio.numbers or twilio.messaging_service_sid is set, but TWILIO_ACCOUNT_SID"),
    ],
)  # fmt: skip
def test_production_refuses_to_start_without_the_credentials_it_needs(
    tmp_path: Path, env: dict[str, str], problem: str
) -> None:
    settings = production(tmp_path, **env)

    with pytest.raises(StartupError) as refused:
        load_content(settings)

    assert problem in str(refused.value)
    assert str(refused.value).startswith("refusing to start: ")


@pytest.mark.parametrize("env", [AT, TWILIO, {**AT, **TWILIO, "GATEWAY_TWILIO_NUMBERS": "+1500"}])
def test_production_with_credentials_starts(tmp_path: Path, env: dict[str, str]) -> None:
    assert provider_problems(production(tmp_path, **env)) == []


def test_production_without_sms_keywords_needs_no_provider(tmp_path: Path) -> None:
    settings = load_settings(
        {"GATEWAY_ENV": "production", "GATEWAY_SECRET_KEY": REAL_KEY,
         "GATEWAY_APP_VAR_DIR": str(tmp_path)},
        path=write(tmp_path / "settings.toml", '[ussd.routes]\n"*384*1#" = "budget"\n'),
    )  # fmt: skip

    assert provider_problems(settings) == []


@pytest.mark.parametrize(
    ("toml", "key"),
    [
        ('[africastalking]\napi_key = "x"\n', "africastalking.api_key"),
        ('[africastalking]\nusername = "x"\n', "africastalking.username"),
        ('[twilio]\naccount_sid = "AC1"\n', "twilio.account_sid"),
    ],
)
def test_credentials_in_the_settings_file_are_refused(
    tmp_path: Path, toml: str, key: str
) -> None:
    with pytest.raises(SettingsError, match=f"{key} must not be in"):
        load_settings({"GATEWAY_SECRET_KEY": REAL_KEY}, path=write(tmp_path / "s.toml", toml))


def test_the_repo_settings_file_loads(tmp_path: Path) -> None:
    settings = load_settings({"GATEWAY_SECRET_KEY": REAL_KEY}, path=REPO / "settings.toml")

    assert settings.africastalking.timeout_seconds == settings.twilio.timeout_seconds == 10.0
    assert settings.emulator.port == 8001 and settings.emulator.deliver_reports


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
