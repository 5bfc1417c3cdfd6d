"""Phone numbers: one canonical form (E.164), a pseudonym to store instead, a mask to show.

Raw numbers are personal data: storage keeps `pseudonym(number)` only, and logs show `mask(number)`.
"""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers

_MAX_RAW_LENGTH = 32


class InvalidPhoneNumber(ValueError):
    """Not something a phone network would deliver to; the message never repeats the number."""


def normalise_e164(raw: str, default_region: str = "KE") -> str:
    """`0711 000 001` and `254711000001` (as some providers send) become `+254711000001`.

    >>> normalise_e164("0711 000 001")
    '+254711000001'
    """
    text = raw.strip()
    if not text or len(text) > _MAX_RAW_LENGTH or any(c.isalpha() for c in text):
        raise InvalidPhoneNumber("not a phone number")
    candidates = [text]
    if text.isdigit():  # an international number without its "+"
        candidates.append("+" + text)
    for candidate in candidates:
        try:
            number = phonenumbers.parse(candidate, default_region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidPhoneNumber("not a possible phone number")


def pseudonym(e164: str, secret_key: str) -> str:
    """A stable stand-in for a number: the same number and key always give the same 32 hex chars."""
    digest = hmac.new(secret_key.encode(), e164.encode(), hashlib.sha256).hexdigest()
    return digest[:32]


def mask(number: str) -> str:
    """Keep the first four digits (the country and network) and the last two.

    >>> mask("+254711000089")
    '+2547******89'
    """
    plus = "+" if number.startswith("+") else ""
    digits = number.removeprefix("+")
    hidden = max(len(digits) - 6, 0)
    return plus + digits[:4] + "*" * hidden + digits[4 + hidden :]
