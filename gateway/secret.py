"""The secret key: pseudonyms of phone numbers are HMACs under it, so it must never leak or change.

Development needs no setup: without GATEWAY_SECRET_KEY a random key is generated once into
`var/secret_key` (mode 0600) and reused, so pseudonyms stay stable across restarts. Production
refuses to start with a missing, short or placeholder key rather than use a guessable one.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

ENV_KEY = "GATEWAY_SECRET_KEY"
MIN_LENGTH = 32
# Whole-value placeholders (compared after lower-casing and dropping punctuation)...
_PLACEHOLDER_VALUES = {"dev", "development", "test", "testing", "todo", "xxx", "key", "default"}
# ...and words that give away a copied example anywhere in the value.
_PLACEHOLDER_WORDS = ("changeme", "placeholder", "secret", "password", "example", "insecure")
_HOW = (
    "set it to a random value of at least 32 characters, e.g. the output of "
    "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`"
)


class SecretKeyError(ValueError):
    """The secret key is unusable; the message names GATEWAY_SECRET_KEY and says what to do."""


def resolve_secret_key(environ: Mapping[str, str], *, var_dir: Path, production: bool) -> str:
    value = environ.get(ENV_KEY, "").strip()
    if production:
        check_production_secret(value)
        return value
    return value or development_secret_key(var_dir)


def check_production_secret(value: str) -> None:
    if not value:
        raise SecretKeyError(f"{ENV_KEY} is not set; production needs one: {_HOW}")
    if is_placeholder(value):
        raise SecretKeyError(f"{ENV_KEY} looks like a placeholder; {_HOW}")
    if len(value) < MIN_LENGTH:
        raise SecretKeyError(f"{ENV_KEY} is too short ({len(value)} characters); {_HOW}")


def is_placeholder(value: str) -> bool:
    lowered = value.lower()
    squashed = re.sub(r"[^a-z0-9]", "", lowered)
    return (
        squashed in _PLACEHOLDER_VALUES
        or any(word in squashed for word in _PLACEHOLDER_WORDS)
        or len(set(value)) < 8  # "aaaa…", "0000…", "abcabc…"
    )


def development_secret_key(var_dir: Path) -> str:
    """Read `var_dir/secret_key`, generating it first if needed (safe if two processes race)."""
    path = var_dir / "secret_key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        _create_exclusively(path, secrets.token_urlsafe(48))
    value = path.read_text(encoding="utf-8").strip()
    if not value:
        raise SecretKeyError(f"{path} is empty; delete it to generate a new development key")
    return value


def _create_exclusively(path: Path, value: str) -> None:
    # Write a private temp file, then hard-link it into place: the key appears whole or not at
    # all, and if another process got there first, its key wins.
    temp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(value + "\n")
    try:
        os.link(temp, path)
    except FileExistsError:
        return
    finally:
        temp.unlink()
    log.warning("generated a development secret key in %s", path)
