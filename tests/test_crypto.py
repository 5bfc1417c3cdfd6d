"""Phone numbers we text back are stored encrypted, readable only with GATEWAY_SECRET_KEY."""

from __future__ import annotations

import base64
import doctest
import hashlib
import hmac

import pytest
from cryptography.fernet import Fernet

from gateway import crypto
from gateway.crypto import NumberDecryptionError, decrypt_number, encrypt_number
from gateway.phone import pseudonym

KEY = "test-only-key-0123456789abcdefghijklmnopqrstuvwxyz"
OTHER_KEY = "another-test-key-0123456789abcdefghijklmnopqrstuvwxyz"
NUMBER = "+254711000001"
# Encrypted once by this module: stored numbers must stay readable after an upgrade.
STORED = (
    "gAAAAABrBCKBmLN0crGFQnbZBa3v9QGrijIa6MKrO4tq_5hlNBRxVOBqkODY5z-kXp-ajfEQdwDdvBeydi4LN9HiuCVS"
    "7VnJ8w=="
)


@pytest.mark.parametrize("number", [NUMBER, "+14155550100", "+33612345678", "+251911234567"])
def test_round_trip(number: str) -> None:
    token = encrypt_number(number, KEY)
    assert decrypt_number(token, KEY) == number


def test_token_hides_the_number() -> None:
    token = encrypt_number(NUMBER, KEY)
    assert token.isascii()
    assert "254711000001" not in token
    assert b"254711000001" not in base64.urlsafe_b64decode(token)
    assert pseudonym(NUMBER, KEY) not in token


def test_same_number_gives_different_tokens() -> None:
    assert encrypt_number(NUMBER, KEY) != encrypt_number(NUMBER, KEY)


def test_a_number_stored_by_an_earlier_version_is_still_readable() -> None:
    assert decrypt_number(STORED, KEY) == NUMBER


def test_wrong_key_is_refused_clearly() -> None:
    with pytest.raises(NumberDecryptionError, match="different GATEWAY_SECRET_KEY") as caught:
        decrypt_number(STORED, OTHER_KEY)
    assert STORED not in str(caught.value) and KEY not in str(caught.value)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t[:40] + ("A" if t[40] != "A" else "B") + t[41:],  # one character changed
        lambda t: t[:-8],  # cut short
        lambda t: t[:20] + "AAAA" + t[20:],  # lengthened
        lambda t: "",
        lambda t: "not a token",
        lambda t: "gAAAAAé",
    ],
)
def test_tampered_token_is_refused(tamper) -> None:
    with pytest.raises(NumberDecryptionError, match="altered"):
        decrypt_number(tamper(STORED), KEY)


def test_key_is_hkdf_of_the_secret_key_with_its_own_label() -> None:
    """RFC 5869 by hand: HKDF-SHA256, no salt, info "gateway:number-encryption".

    Not the secret key itself nor the pseudonym's HMAC, so knowing one says nothing of the other.
    """
    prk = hmac.new(b"\0" * 32, KEY.encode(), hashlib.sha256).digest()
    okm = hmac.new(prk, b"gateway:number-encryption\x01", hashlib.sha256).digest()
    assert Fernet(base64.urlsafe_b64encode(okm)).decrypt(STORED.encode()) == NUMBER.encode()
    for other in (KEY.encode()[:32], hmac.new(KEY.encode(), b"", hashlib.sha256).digest()):
        token = Fernet(base64.urlsafe_b64encode(other)).encrypt(NUMBER.encode()).decode()
        with pytest.raises(NumberDecryptionError):
            decrypt_number(token, KEY)


@pytest.mark.parametrize("bad", ["0711000001", "254711000001", "+", "+0711000001", "", "+2547 11"])
def test_only_e164_numbers_are_encrypted(bad: str) -> None:
    with pytest.raises(ValueError, match="E.164"):
        encrypt_number(bad, KEY)


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(ValueError, match="GATEWAY_SECRET_KEY"):
        encrypt_number(NUMBER, "")


def test_docstring_examples() -> None:
    assert doctest.testmod(crypto).failed == 0
