"""Messages per second, per provider: a token bucket in Redis, shared by every worker process.

The bucket holds at most one second's worth (`rate` tokens) and refills at `rate` tokens a
second. Time is Redis's own clock, so workers on machines with skewed clocks still agree. Two
kinds of callers share it, each with one Lua call:

- **Replies** (and notices: anything sent on the "high" queue) *reserve*: they take their
  tokens at once, even when the bucket is short (the count goes negative), and are told how
  long to sleep until the tokens would have accumulated. Replies are therefore served in
  arrival order among themselves.
- **Bulk** (broadcast invites) *takes* tokens only when the bucket holds them **plus a headroom
  for replies** (`reply_headroom`, REPLY_HEADROOM_SECONDS of the rate, at least one token),
  and otherwise takes nothing and is told when to ask again. Bulk never reserves ahead, so it
  never leaves a debt in front of a reply: while a broadcast saturates the bucket, the bucket
  stays at about the headroom and a reply finds its token there (a burst of replies larger
  than the headroom waits only for other replies, since bulk takes nothing until the replies'
  debt is repaid and the headroom is back).

The provider's rate is honoured with both kinds together: every token any caller sends was
counted against the one bucket before it is used (a reply's debt is repaid by waiting; bulk
takes only what is there), so the messages sent by time t never exceed `rate` (the full
bucket) + `rate` x t, and bulk never sends more at once than one call's tokens, which
`bulk_call_size` keeps to half a second of the rate. Unused tokens are given back (`refund`),
never above a full bucket.

>>> wait = reserve(redis, "twilio", 1, rate=10.0)        # a reply: 0.0 unless replies queue
>>> time.sleep(wait)                                       # then send it
>>> wait_for_bulk(redis, "africastalking", 25, rate=50.0)  # bulk: returns once it holds 25
"""

from __future__ import annotations

import time

from redis import Redis

KEY = "gw:throttle:{provider}"
REPLY_HEADROOM_SECONDS = 0.1  # of the rate, left in the bucket by bulk for replies
BULK_CALL_SECONDS = 0.5  # at most this much of the rate taken (and sent) by bulk at once
BULK_POLL_MIN_SECONDS = 0.005  # shortest sleep between two asks of a bulk caller

# Both scripts begin here: KEYS[1] bucket hash; ARGV[1] rate (tokens/s), ARGV[2] tokens wanted.
# Sets t (Redis's clock, in microseconds), rate, want, and `tokens` as the bucket holds them now.
REFILL_LUA = """
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000000 + tonumber(now[2])
local rate = tonumber(ARGV[1])
local want = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens, at = rate, t
end
tokens = math.min(rate, tokens + (t - at) * rate / 1000000)
"""

# Reserve (replies): takes the tokens, into debt if need be. Returns the wait in microseconds.
RESERVE_LUA = REFILL_LUA + """
tokens = tokens - want
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(t))
local idle_ms = math.ceil(math.max(0, -tokens) / rate * 1000) + 2000
redis.call('PEXPIRE', KEYS[1], idle_ms)
if tokens >= 0 then
  return 0
end
return math.ceil(-tokens / rate * 1000000)
"""

# Take for bulk; ARGV[3]: the headroom (tokens left for replies). Takes the tokens only if the
# bucket holds them plus the headroom (never more than a full bucket is asked for: a call
# bigger than the bucket takes it full, as a reply would).
# Returns 0 when taken, else the microseconds until the bucket would hold them (nothing taken).
TAKE_BULK_LUA = REFILL_LUA + """
local headroom = tonumber(ARGV[3])
local needed = math.min(want + headroom, rate)
if tokens < needed then
  return math.max(1, math.ceil((needed - tokens) / rate * 1000000))
end
tokens = tokens - want
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(t))
redis.call('PEXPIRE', KEYS[1], math.ceil(math.max(0, -tokens) / rate * 1000) + 2000)
return 0
"""

# KEYS[1] bucket hash; ARGV: rate, tokens given back. Never above a full bucket.
REFUND_LUA = """
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
if tokens == nil then
  return 0
end
tokens = math.min(tonumber(ARGV[1]), tokens + tonumber(ARGV[2]))
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens))
return 1
"""


def reply_headroom(rate: float) -> float:
    """Tokens bulk leaves in the bucket for replies: REPLY_HEADROOM_SECONDS of the rate, at
    least one (50/s: 5; 10/s: 1)."""
    return max(1.0, rate * REPLY_HEADROOM_SECONDS)


def bulk_call_size(rate: float) -> int:
    """The most messages bulk sends in one provider call: BULK_CALL_SECONDS of the rate (50/s:
    25), so that the call's tokens and the replies' headroom fit in the bucket together."""
    return max(1, int(rate * BULK_CALL_SECONDS))


def reserve(redis_sync: Redis, provider: str, count: int, *, rate: float) -> float:
    """Take `count` tokens from `provider`'s bucket; the seconds to wait before using them."""
    if count <= 0:
        return 0.0
    script = redis_sync.register_script(RESERVE_LUA)
    micros = script(keys=[KEY.format(provider=provider)], args=[repr(float(rate)), count])
    return int(micros) / 1_000_000


def wait_for(redis_sync: Redis, provider: str, count: int, *, rate: float) -> float:
    """Reserve and sleep until the tokens are due; returns the seconds slept (replies)."""
    wait = reserve(redis_sync, provider, count, rate=rate)
    if wait > 0:
        time.sleep(wait)
    return wait


def take_bulk(redis_sync: Redis, provider: str, count: int, *, rate: float) -> float:
    """Bulk: take `count` tokens if the bucket holds them beyond the replies' headroom (0.0),
    else take nothing and return the seconds until it would (ask again then)."""
    if count <= 0:
        return 0.0
    script = redis_sync.register_script(TAKE_BULK_LUA)
    micros = script(keys=[KEY.format(provider=provider)],
                    args=[repr(float(rate)), count, repr(reply_headroom(rate))])
    return int(micros) / 1_000_000


def wait_for_bulk(redis_sync: Redis, provider: str, count: int, *, rate: float) -> float:
    """Bulk: ask until `count` tokens are taken, sleeping as told in between; the seconds
    slept. Replies that come meanwhile go first (see the module docstring)."""
    slept = 0.0
    while True:
        wait = take_bulk(redis_sync, provider, count, rate=rate)
        if wait <= 0:
            return slept
        wait = max(wait, BULK_POLL_MIN_SECONDS)
        time.sleep(wait)
        slept += wait


def refund(redis_sync: Redis, provider: str, count: int, *, rate: float) -> None:
    """Give back tokens reserved but not used (the messages were taken by another job)."""
    if count > 0:
        script = redis_sync.register_script(REFUND_LUA)
        script(keys=[KEY.format(provider=provider)], args=[repr(float(rate)), count])
