"""The Redis session store: one MGET to load a hop, one Lua compare-and-set to save it.

Keys (see the design's "Redis keys"):
  gw:ussd:{sessionId}         SessionRecord JSON, TTL session_ttl (what replay answers with)
  gw:run:{pseudonym}:{flow}   StoredRun JSON: the contact's open run in that flow
  gw:lang:{pseudonym}         remembered language, no TTL
  gw:runs:deadline            ZSET "{pseudonym}:{flow}" -> updated_at + resume window
  gw:runs:outbox              LIST of finished-run JSON, drained into SQL by the worker

The save script compares the raw values read by the load, so two hops of one session racing
each other cannot both apply: the loser reloads and then sees a replay or a stale hop.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from redis.exceptions import NoScriptError

from gateway.flows.engine import RunState
from gateway.flows.model import ReportLine

log = logging.getLogger(__name__)
T = TypeVar("T")

DEADLINES = "gw:runs:deadline"
OUTBOX = "gw:runs:outbox"
OUTBOX_PROCESSING = "gw:runs:outbox:processing"

# Built once: `json.dumps(..., separators=..., ensure_ascii=False)` makes a new encoder per call,
# and `json.loads(bytes)` sniffs the encoding first; Redis hands back UTF-8 bytes.
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_decode = json.JSONDecoder().decode


def _json(raw: str | bytes) -> Any:
    return _decode(raw.decode("utf-8") if isinstance(raw, bytes) else raw)

# KEYS: session, run, lang, deadlines, outbox[, starts]
# ARGV: 1 compare session? ("1"/"0"), 2 expected session ("" = absent), 3 expected run
#       ("" = absent), 4 new session ("" = leave), 5 session ttl, 6 new run ("" = delete),
#       7 run ttl, 8 language ("" = leave), 9 deadline member, 10 deadline score ("" = remove),
#       then with a 6th key (the USSD hop's): 11 most session starts in the window ("" = not a
#       start, or no limit), 12 the window in seconds; then the finished runs to push on the outbox
# Returns 1 saved, 0 changed since read (read again), -1 too many starts (nothing written).
SAVE_LUA = """
local function same(key, expected)
  local current = redis.call('GET', key)
  if current == false then return expected == '' end
  return current == expected
end
if ARGV[1] == '1' and not same(KEYS[1], ARGV[2]) then return 0 end
if not same(KEYS[2], ARGV[3]) then return 0 end
local finished = 11
if #KEYS >= 6 then
  finished = 13
  if ARGV[11] ~= '' then
    local starts = redis.call('INCR', KEYS[6])
    if starts == 1 then redis.call('EXPIRE', KEYS[6], ARGV[12]) end
    if starts > tonumber(ARGV[11]) then return -1 end
  end
end
if ARGV[4] ~= '' then redis.call('SET', KEYS[1], ARGV[4], 'EX', ARGV[5]) end
if ARGV[6] ~= '' then
  redis.call('SET', KEYS[2], ARGV[6], 'EX', ARGV[7])
else
  redis.call('DEL', KEYS[2])
end
if ARGV[8] ~= '' then redis.call('SET', KEYS[3], ARGV[8]) end
if ARGV[10] ~= '' then
  redis.call('ZADD', KEYS[4], ARGV[10], ARGV[9])
else
  redis.call('ZREM', KEYS[4], ARGV[9])
end
for i = finished, #ARGV do redis.call('RPUSH', KEYS[5], ARGV[i]) end
return 1
"""
SAVE_SHA = hashlib.sha1(SAVE_LUA.encode()).hexdigest()


def session_key(session_id: str) -> str:
    return f"gw:ussd:{session_id}"


def run_key(contact: str, flow: str) -> str:
    return f"gw:run:{contact}:{flow}"


def lang_key(contact: str) -> str:
    return f"gw:lang:{contact}"


def deadline_member(contact: str, flow: str) -> str:
    return f"{contact}:{flow}"


def starts_key(contact: str) -> str:
    return f"gw:ussd:starts:{contact}"


STARTS_WINDOW_SECONDS = 60


class TooManyStarts(Exception):
    """The number started more USSD sessions than its limit in the last minute: nothing saved."""


@dataclass(frozen=True)
class SessionRecord:
    """What was last answered in one provider session."""

    text: str
    screen: str
    final: bool
    run_id: str | None
    # a report flow's "My reports" lines, read from SQL on the session's first hop only
    reports: tuple[ReportLine, ...] | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "t": self.text, "s": self.screen, "e": int(self.final), "r": self.run_id
        }
        if self.reports is not None:
            data["x"] = [
                [li.reference, li.category, li.ward, li.status, li.note, int(li.reopenable)]
                for li in self.reports
            ]
        return _encode(data)

    @classmethod
    def from_json(cls, raw: str | bytes) -> SessionRecord:
        data = _json(raw)
        return cls(
            text=data["t"],
            screen=data["s"],
            final=bool(data["e"]),
            run_id=data["r"],
            reports=_report_lines(data.get("x")),
        )


def _report_lines(data: object) -> tuple[ReportLine, ...] | None:
    """What `SessionRecord.to_json` wrote, or None (the menu then says "not available")."""
    if not isinstance(data, list):
        return None
    try:
        return tuple(
            ReportLine(str(ref), str(category), str(ward), str(status), str(note), bool(reopen))
            for ref, category, ward, status, note, reopen in data
        )
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class StoredRun:
    """An open run: the engine's state plus the fields only the host knows."""

    state: RunState
    channel: str
    started_at: float
    updated_at: float
    hops: int
    simulated: bool = False

    def to_json(self) -> str:
        data = {
            "s": self.state.to_dict(),
            "c": self.channel,
            "b": self.started_at,
            "u": self.updated_at,
            "n": self.hops,
            "m": int(self.simulated),
        }
        return _encode(data)

    @classmethod
    def from_json(cls, raw: str | bytes) -> StoredRun:
        data = _json(raw)
        return cls(
            state=RunState.from_dict(data["s"]),
            channel=data["c"],
            started_at=data["b"],
            updated_at=data["u"],
            hops=data["n"],
            simulated=bool(data["m"]),
        )


def finished_entry(
    run: StoredRun, contact: str, status: str, ended_at: float, *, number: str | None = None
) -> str:
    """The outbox JSON for a run that ended (what the worker writes as a FlowRun row).

    `number`: the contact's encrypted number, for report flows (the "report received" SMS).
    """
    state = run.state
    data: dict[str, Any] = {
        "run_id": state.run_id,
        "flow": state.flow,
        "contact": contact,
        "channel": run.channel,
        "language": state.language,
        "status": status,
        "last_step": state.step,
        "answers": dict(state.answers),
        "hops": run.hops,
        "started_at": run.started_at,
        "ended_at": ended_at,
        "simulated": run.simulated,
    }
    if number:
        data["number_encrypted"] = number
    return _encode(data)


class _parsed(Generic[T]):
    """`functools.cached_property` without its lock (Python 3.11 takes one on every first
    read): the value is computed on first read and kept in the instance's `__dict__`."""

    def __init__(self, compute: Callable[[Any], T]) -> None:
        self.compute = compute
        self.name = compute.__name__
        self.__doc__ = compute.__doc__

    @overload
    def __get__(self, instance: None, owner: type) -> _parsed[T]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> T: ...

    def __get__(self, instance: object | None, owner: type) -> T | _parsed[T]:
        if instance is None:
            return self
        value = instance.__dict__[self.name] = self.compute(instance)
        return value


@dataclass(frozen=True)
class Loaded:
    """What one hop read; the raw values are what the save compares against."""

    session_raw: bytes | None
    run_raw: bytes | None
    language: str | None

    @_parsed
    def session(self) -> SessionRecord | None:
        return _readable(SessionRecord.from_json, self.session_raw)

    @_parsed
    def run(self) -> StoredRun | None:
        return _readable(StoredRun.from_json, self.run_raw)


@dataclass(frozen=True)
class Change:
    """What one hop writes. `run=None` closes the contact's open run in the flow."""

    session: SessionRecord | None
    run: StoredRun | None
    language: str | None = None
    outbox: tuple[str, ...] = ()


class SessionStore:
    """Load and save hops for one (session, contact, flow); the Redis client is passed in.

    Any asyncio client with redis-py's `mget`, `evalsha` and `script_load` will do: redis-py's
    own, or the hop's lean `gateway.hop_redis.HopRedis`.
    """

    def __init__(self, redis: Any, *, session_ttl: int, resume_window: int) -> None:
        self._redis = redis
        self._session_ttl = session_ttl
        self._resume_window = resume_window

    async def load(self, session_id: str, contact: str, flow: str) -> Loaded:
        raws = await self._redis.mget(
            [session_key(session_id), run_key(contact, flow), lang_key(contact)]
        )
        loaded = _loaded(raws)
        _SAVED_SESSIONS.recall(loaded, "session", loaded.session_raw)
        _SAVED_RUNS.recall(loaded, "run", loaded.run_raw)
        return loaded

    async def save(
        self, session_id: str, contact: str, flow: str, loaded: Loaded, change: Change,
        *, starts_limit: int = 0,
    ) -> bool:
        """Apply `change` if nothing changed since `loaded`; False means reload and retry.

        `starts_limit` (a hop that starts a session): counted against the contact's session
        starts in the last minute in the same script; past it, TooManyStarts and nothing saved.
        """
        keys, args = save_call(
            session_id, contact, flow, loaded, change,
            session_ttl=self._session_ttl, resume_window=self._resume_window,
            starts_limit=starts_limit,
        )
        try:
            saved = await self._redis.evalsha(SAVE_SHA, len(keys), *keys, *args)
        except NoScriptError:  # a new or flushed Redis: one SCRIPT LOAD, then as usual
            await self._redis.script_load(SAVE_LUA)
            saved = await self._redis.evalsha(SAVE_SHA, len(keys), *keys, *args)
        if saved == -1:
            raise TooManyStarts(contact)
        if saved:  # the next hop of this session reads back what was just written
            session_json, run_json = args[3], args[5]
            if change.session is not None and isinstance(session_json, str):
                _SAVED_SESSIONS.keep(session_json, change.session)
            if change.run is not None and isinstance(run_json, str):
                _SAVED_RUNS.keep(run_json, change.run)
        return bool(saved)


class _Saved:
    """Values this process saved, by the JSON it wrote: the next hop of a session gets the very
    same bytes back from its MGET, and takes the value from here instead of parsing them again
    (`from_json(to_json(value)) == value`). A value is taken once; a value Redis no longer
    holds (the session moved on, another process wrote) is simply never asked for. Past
    `size` entries (abandoned sessions) it starts afresh."""

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self.values: dict[bytes, object] = {}

    def keep(self, raw: str, value: object) -> None:
        if len(self.values) >= self.size:
            self.values.clear()
        self.values[raw.encode()] = value

    def recall(self, loaded: Loaded, name: str, raw: bytes | None) -> None:
        if raw:
            value = self.values.pop(raw, None)
            if value is not None:
                loaded.__dict__[name] = value  # what Loaded.session / Loaded.run would parse


_SAVED_SESSIONS = _Saved()
_SAVED_RUNS = _Saved()


def save_call(
    session_id: str | None,
    contact: str,
    flow: str,
    loaded: Loaded,
    change: Change,
    *,
    session_ttl: int,
    resume_window: int,
    starts_limit: int = 0,
) -> tuple[list[str], list[str | bytes | int]]:
    """Keys and arguments of SAVE_LUA; shared by the async hop and the sync sweeper.

    `starts_limit`: count this hop as a session start, refused past that many a minute
    (0: not counted)."""
    keys = [
        session_key(session_id or ""),
        run_key(contact, flow),
        lang_key(contact),
        DEADLINES,
        OUTBOX,
        starts_key(contact),
    ]
    run = change.run
    args: list[str | bytes | int] = [
        "1" if session_id is not None else "0",
        loaded.session_raw or "",
        loaded.run_raw or "",
        change.session.to_json() if change.session else "",
        session_ttl,
        run.to_json() if run else "",
        resume_window + 86400,
        change.language or "",
        deadline_member(contact, flow),
        repr(run.updated_at + resume_window) if run else "",
        starts_limit if starts_limit > 0 else "",
        STARTS_WINDOW_SECONDS,
        *change.outbox,
    ]
    return keys, args


def _readable(parse: Callable[[bytes], T], raw: bytes | None) -> T | None:
    """An unreadable value (a bug, a manual edit) counts as absent: the hop overwrites it."""
    if not raw:
        return None
    try:
        return parse(raw)
    except (ValueError, KeyError, TypeError):
        log.error("sessions: unreadable value in Redis ignored")
        return None


def _loaded(raws: list[bytes | None]) -> Loaded:
    session_raw, run_raw, lang = raws
    return Loaded(
        session_raw=session_raw,
        run_raw=run_raw,
        language=lang.decode() if isinstance(lang, bytes) else lang,
    )
