"""Phone numbers we must be able to text back, encrypted at rest.

Storage identifies a contact by a pseudonym (an HMAC, see gateway.phone), which cannot be turned
back into a number. To send an SMS later (a reply from the outbox, a poll invite) the number is
kept encrypted with Fernet (AES-128-CBC + HMAC-SHA256, authenticated), under a key derived from
GATEWAY_SECRET_KEY with HKDF and its own label, so it is independent of the pseudonym key.

The same number encrypts to a different token each time (random IV): tokens cannot be compared
or joined; look contacts up by pseudonym. Changing GATEWAY_SECRET_KEY makes every stored number
unreadable (and every pseudonym different), which is why the key must never change.

>>> key = "k" * 16 + "0123456789abcdef"
>>> decrypt_number(encrypt_number("+254711000001", key), key)
'+254711000001'
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

LABEL = b"gateway:number-encryption"
_E164 = re.compile(r"\+[1-9][0-9]{5,14}")


class NumberDecryptionError(ValueError):
    """A stored number cannot be read back; the message never shows the token or the key."""


def encrypt_number(e164: str, secret_key: str) -> str:
    """A Fernet token (ASCII, about 120 characters) for an E.164 number such as '+254711000001'."""
    if not _E164.fullmatch(e164):
        raise ValueError("encrypt_number expects an E.164 number such as +254711000001")
    return _fernet(secret_key).encrypt(e164.encode("ascii")).decode("ascii")


def decrypt_number(token: str, secret_key: str) -> str:
    """The number inside `token`; NumberDecryptionError if the key is wrong or the token altered."""
    try:
        return _fernet(secret_key).decrypt(token.encode("utf-8")).decode("ascii")
    except (InvalidToken, UnicodeDecodeError):
        raise NumberDecryptionError(
            "cannot decrypt a stored phone number: the token was altered or it was encrypted "
            "under a different GATEWAY_SECRET_KEY"
        ) from None


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    if not secret_key:
        raise ValueError("numbers cannot be encrypted without a secret key (GATEWAY_SECRET_KEY)")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=LABEL).derive(
        secret_key.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(derived))
