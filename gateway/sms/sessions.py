"""SMS sessions in Redis: a contact's one open SMS run, saved by compare-and-set, swept on expiry.

Keys:
  gw:smsrun:{pseudonym}   StoredRun JSON (channel "sms"): the open run, whatever its flow
  gw:sms:deadline         ZSET pseudonym -> updated_at + sms.session_ttl_seconds
  gw:lang:{pseudonym}     the remembered language, shared with USSD
  gw:runs:outbox          finished runs, drained into SQL by the worker (shared with USSD)

The write is the USSD save script (gateway.sessions.SAVE_LUA) on these keys, without a provider
session: it applies only if the open run is still what the message read, so the sweeper closing
a run at the same moment cannot be overwritten, and a finished run is pushed in the same write.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from redis import Redis

from gateway.sessions import (
    OUTBOX,
    SAVE_LUA,
    StoredRun,
    finished_entry,
    lang_key,
)

log = logging.getLogger(__name__)

DEADLINES = "gw:sms:deadline"
KEEP_AFTER_EXPIRY = 86400  # a run outlives its deadline this long in Redis, for the sweeper
SWEEP_BATCH = 100


def run_key(contact: str) -> str:
    return f"gw:smsrun:{contact}"


@dataclass(frozen=True)
class Loaded:
    """What a message read: the raw run (what the save compares) and the remembered language."""

    run_raw: bytes | None
    language: str | None

    @property
    def run(self) -> StoredRun | None:
        if not self.run_raw:
            return None
        try:
            return StoredRun.from_json(self.run_raw)
        except (ValueError, KeyError, TypeError):
            log.error("sms sessions: unreadable open run ignored")
            return None


@dataclass(frozen=True)
class Change:
    """What a message writes. `run=None` closes the open run; `finished` go to the runs outbox."""

    run: StoredRun | None
    language: str | None = None
    finished: tuple[str, ...] = ()


async def load(redis: Any, contact: str) -> Loaded:
    return _loaded(await redis.mget([run_key(contact), lang_key(contact)]))


def load_sync(redis_sync: Redis, contact: str) -> Loaded:
    return _loaded(redis_sync.mget([run_key(contact), lang_key(contact)]))


def _loaded(raws: list[Any]) -> Loaded:
    run_raw, language = raws
    if isinstance(language, bytes):
        language = language.decode("utf-8", "replace")
    return Loaded(run_raw=run_raw, language=language or None)


def save(redis_sync: Redis, contact: str, loaded: Loaded, change: Change, *, ttl: int) -> bool:
    """Apply `change` unless the open run changed since `loaded`; False means read again."""
    keys, args = save_call(contact, loaded.run_raw, change, ttl=ttl)
    return bool(redis_sync.register_script(SAVE_LUA)(keys=keys, args=args))


def save_call(
    contact: str, expected_raw: bytes | None, change: Change, *, ttl: int
) -> tuple[list[str], list[str | bytes | int]]:
    """Keys and arguments of SAVE_LUA (its session key is unused: compare flag "0")."""
    keys = [f"gw:sms:unused:{contact}", run_key(contact), lang_key(contact), DEADLINES, OUTBOX]
    run = change.run
    args: list[str | bytes | int] = [
        "0",
        "",
        expected_raw or "",
        "",
        1,
        run.to_json() if run else "",
        ttl + KEEP_AFTER_EXPIRY,
        change.language or "",
        contact,
        repr(run.updated_at + ttl) if run else "",
        *change.finished,
    ]
    return keys, args


def expired(run: StoredRun, now: float, ttl: int) -> bool:
    return now - run.updated_at > ttl


def sweep_expired(redis_sync: Redis, now: float, ttl: int) -> int:
    """Close SMS runs left unanswered longer than `ttl`; each is recorded as incomplete."""
    closed = 0
    for member in redis_sync.zrangebyscore(DEADLINES, "-inf", now, start=0, num=SWEEP_BATCH):
        contact = member.decode() if isinstance(member, bytes) else member
        raw = redis_sync.get(run_key(contact))
        loaded = Loaded(run_raw=raw, language=None)
        run = loaded.run
        if run is not None and not expired(run, now, ttl):
            continue  # answered since the deadline was read
        finished = (finished_entry(run, contact, "incomplete", run.updated_at),) if run else ()
        if save(redis_sync, contact, loaded, Change(run=None, finished=finished), ttl=ttl):
            closed += len(finished)
    return closed


# KEYS: run, lang, deadlines, outbox
# ARGV: 1 the run written ("" = deleted), 2 the run before ("" = absent), 3 its ttl, 4 language
#       before ("" = none; "-" = not written, leave), 5 deadline member, 6 deadline score before
#       ("" = none), 7.. finished runs pushed
UNDO_LUA = """
local current = redis.call('GET', KEYS[1])
if (current == false and ARGV[1] ~= '') or (current ~= false and current ~= ARGV[1]) then
  return 0
end
if ARGV[2] ~= '' then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
else
  redis.call('DEL', KEYS[1])
end
if ARGV[4] == '' then redis.call('DEL', KEYS[2])
elseif ARGV[4] ~= '-' then redis.call('SET', KEYS[2], ARGV[4]) end
if ARGV[6] ~= '' then
  redis.call('ZADD', KEYS[3], ARGV[6], ARGV[5])
else
  redis.call('ZREM', KEYS[3], ARGV[5])
end
for i = 7, #ARGV do redis.call('LREM', KEYS[4], -1, ARGV[i]) end
return 1
"""


def undo(redis_sync: Redis, contact: str, loaded: Loaded, change: Change, *, ttl: int) -> bool:
    """Take back a `save` whose SQL transaction then failed, unless the run changed again since.

    Finished runs the worker already drained stay in SQL; the retried message finishes the same
    run ids again, which the drain ignores.
    """
    before = loaded.run
    keys = [run_key(contact), lang_key(contact), DEADLINES, OUTBOX]
    language = "-" if change.language is None else (loaded.language or "")
    args: list[str | bytes | int] = [
        change.run.to_json() if change.run else "",
        loaded.run_raw or "",
        ttl + KEEP_AFTER_EXPIRY,
        language,
        contact,
        repr(before.updated_at + ttl) if before else "",
        *change.finished,
    ]
    return bool(redis_sync.register_script(UNDO_LUA)(keys=keys, args=args))
