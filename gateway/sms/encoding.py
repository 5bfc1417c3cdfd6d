"""How an outbound text travels: GSM-7 or UCS-2, how many segments it costs, and look-alikes.

An SMS is 140 bytes. GSM-7 packs 160 characters of the GSM 03.38 alphabet into it (153 per part
once a message is split, the rest is the concatenation header); anything else forces UCS-2, 70
UTF-16 code units (67 per part). Extension characters (^ { } \\ [ ~ ] | € and form feed) are an
escape plus a character, so they count two septets.

Segment boundaries: a multipart segment never ends in the middle of an escape pair, and a UCS-2
segment never ends in the middle of a surrogate pair (an emoji): phones cannot rebuild a character
split across parts, so senders move it whole to the next part (Twilio's segment calculator counts
the same way). A long text with extension characters or emoji may therefore take one segment more
than `ceil(units / 153)` or `ceil(units / 67)`.

>>> analyse("Habari! Your answer was saved.")
Encoding(encoding='GSM-7', segments=1, units=30)
>>> analyse("Price: 5€ {approx}")
Encoding(encoding='GSM-7', segments=1, units=21)
>>> analyse("Asante 🙏")
Encoding(encoding='UCS-2', segments=1, units=9)
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

# GSM 03.38 default alphabet, in code order 0x00-0x7F (0x1B, the escape, is left out).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# The extension table: each is sent as ESC + a character, two septets.
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE = {"GSM-7": 160, "UCS-2": 70}  # units that fit one unsplit SMS
PART = {"GSM-7": 153, "UCS-2": 67}  # units per part of a multipart SMS

EncodingName = Literal["GSM-7", "UCS-2"]


@dataclass(frozen=True)
class Encoding:
    """What a text costs: GSM-7 septets or UCS-2 (UTF-16) code units, and SMS segments."""

    encoding: EncodingName
    segments: int  # 0 for an empty text: there is nothing to send
    units: int


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def analyse(text: str) -> Encoding:
    """The encoding a provider will use for `text` and the segments it will bill."""
    if is_gsm7(text):
        sizes = [2 if char in GSM7_EXTENSION else 1 for char in text]
        return _count("GSM-7", sizes)
    return _count("UCS-2", [1 if ord(char) < 0x10000 else 2 for char in text])


def _count(encoding: EncodingName, sizes: list[int]) -> Encoding:
    units = sum(sizes)
    if units == 0:
        return Encoding(encoding, 0, 0)
    if units <= SINGLE[encoding]:
        return Encoding(encoding, 1, units)
    segments, used = 1, 0
    for size in sizes:  # a character that does not fit whole starts the next part
        if used + size > PART[encoding]:
            segments, used = segments + 1, 0
        used += size
    return Encoding(encoding, segments, units)


# Look-alikes people paste from word processors and phones, with a GSM-7 stand-in.
LOOK_ALIKES: dict[str, str] = {
    **dict.fromkeys("’‘ʼ´`‚‛′‹›ʹʻ", "'"),
    **dict.fromkeys("“”«»„‟″〝〞", '"'),
    **dict.fromkeys("–—‑−‐‒―•·⁃", "-"),
    "…": "...",
    **dict.fromkeys(
        "\t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
        "\u2009\u200a\u202f\u205f\u3000",
        " ",
    ),
    **dict.fromkeys("\u200b\u200c\u200d\u2060\ufeff\u00ad", ""),  # invisible: dropped
    "\u2028": "\n",
    "\u2029": "\n",
    "œ": "oe",
    "Œ": "OE",
    "×": "x",
}


def transliterate(text: str) -> str:
    """Replace look-alikes and accents GSM-7 lacks, but only if the result is then all GSM-7.

    A text that needs UCS-2 anyway (Amharic, an emoji) is returned untouched: replacing its
    quotes would save nothing and change what the author wrote.

    >>> transliterate("“Karibu” – ça va…")
    '"Karibu" - ca va...'
    >>> transliterate("“ሰላም”")
    '“ሰላም”'
    """
    if is_gsm7(text):
        return text
    replaced = []
    for char in unicodedata.normalize("NFC", text):
        stand_in = _stand_in(char)
        if stand_in is None:
            return text
        replaced.append(stand_in)
    return "".join(replaced)


def _stand_in(char: str) -> str | None:
    """`char` itself if GSM-7, else a GSM-7 replacement ("â" -> "a", "ﬁ" -> "fi"), else None."""
    if is_gsm7(char):
        return char
    if char in LOOK_ALIKES:
        return LOOK_ALIKES[char]
    decomposed = unicodedata.normalize("NFKD", char)
    bare = "".join(part for part in decomposed if not unicodedata.combining(part))
    return bare if bare and is_gsm7(bare) else None


def prepare(text: str, *, transliterate: bool) -> str:
    """The text as it will be sent: transliterated when settings.sms.transliterate is on."""
    return _transliterate(text) if transliterate else text


_transliterate = transliterate
