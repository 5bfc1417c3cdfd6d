"""System texts (flows/_system.toml): the words the engine adds around every flow.

Navigation, yes/no, the language picker, input errors and the polite END screens, in every
supported language. A text missing in a language falls back to the default language at
runtime (the checker still reports it), so a citizen never sees a blank line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from gateway.flows.loader import FlowError, Problem, read_toml

# key -> the placeholders it may use
SYSTEM_TEXTS: dict[str, frozenset[str]] = {
    "more": frozenset(),
    "back": frozenset(),
    "yes": frozenset(),
    "no": frozenset(),
    "language_name": frozenset(),
    "choose_language": frozenset(),
    "invalid_choice": frozenset(),
    "invalid_number": frozenset({"min", "max"}),
    "too_long": frozenset({"max_length"}),
    "required": frozenset(),
    "too_many_attempts": frozenset(),
    "resume_prompt": frozenset(),
    "resume_continue": frozenset(),
    "resume_restart": frozenset(),
    "unavailable": frozenset(),
    "apology": frozenset(),
    "too_many_starts": frozenset(),  # USSD: over ussd.per_number_starts_per_minute
    "skip": frozenset(),
    # SMS only: keyword help, STOP/START confirmations, the hint under a menu
    "sms_help": frozenset({"keywords"}),
    "sms_unknown": frozenset({"keywords"}),
    "sms_stopped": frozenset(),
    "sms_started": frozenset({"keywords"}),
    "sms_reply_hint": frozenset(),
    # Citizen reports (gateway/reports): the receipt, status changes, the STATUS command
    "report_received": frozenset({"reference"}),
    "report_status": frozenset({"reference", "status", "note"}),
    "report_status_public": frozenset({"reference", "status"}),
    "report_unknown": frozenset({"reference"}),
    "report_reopen_hint": frozenset({"reference", "days"}),
    "report_reopened": frozenset({"reference"}),
    "report_reopen_not_yours": frozenset({"reference"}),
    "report_reopen_not_resolved": frozenset({"reference", "status"}),
    "report_reopen_too_late": frozenset({"reference", "days"}),
    "reports_unavailable": frozenset(),
    "report_status_submitted": frozenset(),
    "report_status_acknowledged": frozenset(),
    "report_status_in_progress": frozenset(),
    "report_status_resolved": frozenset(),
    "report_status_closed": frozenset(),
    "report_status_rejected": frozenset(),
}

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders(template: str) -> list[str]:
    """The `{name}` placeholders in a text, in order: "Ward {ward}, {age}" -> ["ward", "age"]."""
    return _PLACEHOLDER.findall(template)


def fill(template: str, values: Mapping[str, object]) -> str:
    """Replace the `{name}` placeholders found in `values`; others stay as written.

    Unlike str.format, stray braces and format specs in a translator's text cannot raise.
    """

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(values[name]) if name in values else match.group(0)

    return _PLACEHOLDER.sub(one, template)


class SystemTexts:
    def __init__(self, texts: Mapping[str, Mapping[str, str]], default_language: str = "en"):
        self.texts = {key: dict(by_lang) for key, by_lang in texts.items()}
        self.default_language = default_language

    @classmethod
    def load(cls, path: str | Path, default_language: str = "en") -> SystemTexts:
        """Read `_system.toml`; raises FlowError on bad TOML or a missing or malformed text."""
        texts, problems = read_system_texts(path, default_language)
        if texts is None or problems:
            raise FlowError(problems)
        return texts

    def has(self, key: str, language: str) -> bool:
        return language in self.texts.get(key, {})

    def text(self, key: str, language: str, fallback: str | None = None, **values: object) -> str:
        """The text in `language`, else `fallback` (the flow's default), else the default language.

        `text("too_long", "sw", max_length=80)` -> "Tafadhali tumia herufi zisizozidi 80."
        """
        by_lang = self.texts[key]
        for lang in (language, fallback, self.default_language):
            if lang in by_lang:
                return fill(by_lang[lang], values)
        return fill(next(iter(by_lang.values()), ""), values)

    def all_languages(self, key: str) -> tuple[str, ...]:
        """A text in every language it is written in (used to accept "yes"/"ndiyo"/"oui")."""
        return tuple(self.texts.get(key, {}).values())


def read_system_texts(
    path: str | Path, default_language: str = "en"
) -> tuple[SystemTexts | None, list[Problem]]:
    """Parse a system texts file, reporting structural problems instead of raising."""
    file = str(path)
    try:
        data, source = read_toml(path)
    except FlowError as error:
        return None, error.problems
    problems: list[Problem] = []
    table = data.get("texts")
    if not isinstance(table, dict):
        return None, [Problem(file, 1, "missing [texts] table")]
    texts: dict[str, dict[str, str]] = {}
    for key, by_lang in table.items():
        line = source.header_line(("texts", key)) or source.line(("texts",), key)
        if key not in SYSTEM_TEXTS:
            problems.append(Problem(file, line, f'unknown text "{key}"'))
            continue
        if not isinstance(by_lang, dict) or not all(isinstance(v, str) for v in by_lang.values()):
            problems.append(Problem(file, line, f'text "{key}" must map languages to strings'))
            continue
        texts[key] = by_lang
    for key in SYSTEM_TEXTS:
        if key not in table:
            problems.append(Problem(file, 1, f'missing text "{key}"'))
    return SystemTexts(texts, default_language), sorted(problems, key=lambda p: p.line)
