"""The invite staff start from: it names the flow and says how to join (USSD code or keyword).

>>> from gateway.config import Settings, UssdSettings, SmsSettings
>>> s = Settings(secret_key="k", ussd=UssdSettings(routes={"*384*1#": "budget"}),
...              sms=SmsSettings(keywords={"KURA": "budget:sw", "POLL": "budget:en"}))
>>> suggested_invite(s, "budget", {"en": "Ward budget poll"})
'Ward budget poll: have your say. Dial *384*1# or reply POLL. Reply STOP to opt out.'
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.config import Settings


def suggested_invite(settings: Settings, flow: str, title: Mapping[str, str]) -> str:
    language = settings.languages.default
    name = title.get(language) or next(iter(title.values()), flow)
    ways = []
    code = next((c for c, target in settings.ussd.routes.items() if target == flow), None)
    if code:
        ways.append(f"Dial {code}")
    keyword = _keyword(settings, flow, language)
    if keyword:
        ways.append(f"reply {keyword}" if ways else f"Reply {keyword}")
    how = " or ".join(ways) + "." if ways else ""
    return " ".join(part for part in (f"{name}: have your say.", how,
                                      "Reply STOP to opt out.") if part)


def _keyword(settings: Settings, flow: str, language: str) -> str | None:
    """The keyword for `flow` in the default language, else the first for `flow` at all."""
    matches = [(kw, target) for kw, target in settings.sms.keywords.items()
               if target.split(":")[0] == flow]
    for keyword, target in matches:
        if target == f"{flow}:{language}":
            return keyword
    return matches[0][0] if matches else None
