"""Short, human-friendly report references such as ``R-7K3Q``.

The USSD/SMS host shows the reference on the flow's end screen *before* the report row
exists, so the reference is derived from the run id (pure, no I/O): ``reference_for(run_id)``.
Filing inserts it; on a unique-key collision it retries with ``attempt + 1`` and the citizen's
"report received" SMS carries the final reference. With 4 Crockford base32 characters
(32**4 = 1,048,576 codes) the on-screen reference is final unless another report already holds
it: about 1 in 10**2 per report after ten thousand reports, 1 in 10**5 for the first ten.
"""

from __future__ import annotations

import hashlib
import re

# Crockford base32 without I, L, O, U: nothing a citizen can misread on a feature-phone screen
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LENGTH = 4
PATTERN = re.compile(r"^R-[0-9A-HJKMNP-TV-Z]{4,5}$")


def reference_for(run_id: str, attempt: int = 0) -> str:
    """``reference_for("run-1")`` -> ``"R-...."``: the same run and attempt, the same code."""
    digest = hashlib.sha256(f"{run_id}:{attempt}".encode()).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(LENGTH):
        number, index = divmod(number, len(ALPHABET))
        chars.append(ALPHABET[index])
    return "R-" + "".join(chars)


def normalize(text: str) -> str | None:
    """A reference as typed (``r-7k3q``, ``R7K3Q``, ``R-7K3O``) -> canonical, or None."""
    cleaned = re.sub(r"[\s\-]", "", text.strip().upper())
    if not cleaned.startswith("R"):
        return None
    # Crockford decoding: O reads as 0, I and L as 1
    body = cleaned[1:].translate(str.maketrans("OIL", "011"))
    candidate = f"R-{body}"
    return candidate if PATTERN.match(candidate) else None
