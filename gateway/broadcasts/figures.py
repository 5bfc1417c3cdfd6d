"""The preview's figures, from counts and the text alone: what the send will cost before it starts.

The text is measured as the outbox will send it (`prepare`: look-alikes replaced when
sms.transliterate is on), so the preview's encoding and segments are what providers bill.

>>> from gateway.config import Settings
>>> f = figures(Settings(secret_key="k"), "Dial *384*1#", {"africastalking": 10},
...             excluded=2, no_number=1)
>>> f.recipients, f.encoding, f.segments, f.total_segments, f.costs
(10, 'GSM-7', 1, 10, [('KES', 8.0)])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.config import Settings
from gateway.sms.encoding import analyse, prepare


@dataclass(frozen=True)
class Figures:
    text: str  # as it will be sent
    recipients: int
    excluded: int  # sent STOP
    no_number: int  # contacts we cannot text (never sent us an SMS, no number on file)
    already_invited: int  # an earlier broadcast of this poll invited them: left out
    encoding: str  # "GSM-7" | "UCS-2"
    segments: int  # per message
    characters: int  # GSM-7 septets or UCS-2 code units
    total_segments: int
    costs: list[tuple[str, float]]  # (currency, amount), one per currency used


def figures(
    settings: Settings, text: str, by_provider: Mapping[str, int], *, excluded: int,
    no_number: int, already_invited: int = 0,
) -> Figures:
    """`by_provider`: how many recipients each provider will carry ({"africastalking": 950})."""
    sent_text = prepare(text, transliterate=settings.sms.transliterate)
    measured = analyse(sent_text)
    costs: dict[str, float] = {}
    for provider, count in sorted(by_provider.items()):
        if not count:
            continue
        currency = str(getattr(settings.outbox, f"{provider}_currency"))
        price = float(getattr(settings.outbox, f"{provider}_segment_price"))
        costs[currency] = costs.get(currency, 0.0) + count * measured.segments * price
    recipients = sum(by_provider.values())
    return Figures(
        text=sent_text, recipients=recipients, excluded=excluded, no_number=no_number,
        already_invited=already_invited,
        encoding=measured.encoding, segments=measured.segments, characters=measured.units,
        total_segments=recipients * measured.segments,
        costs=[(currency, round(amount, 4)) for currency, amount in costs.items()],
    )
