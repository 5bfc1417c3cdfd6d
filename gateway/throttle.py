"""Messages per second, per provider: a token bucket in Redis, shared by every worker process.

One Lua call reserves tokens and says how long to wait for them. The bucket holds at most one
second's worth (`rate` tokens); a caller asking for more than are left takes them anyway (the
count goes negative) and is told to sleep until they would have accumulated. Reservations are
therefore served in arrival order and the long-run rate never exceeds `rate`, however many
workers share the bucket. Time is Redis's own clock, so workers on machines with skewed clocks
still agree.

>>> wait = reserve(redis, "twilio", 5, rate=10.0)   # 0.0 with a full bucket
>>> time.sleep(wait)                                  # then send the five messages
"""

from __future__ import annotations

import time

from redis import Redis

KEY = "gw:throttle:{provider}"

# KEYS[1] bucket hash; ARGV: rate (tokens/s), tokens wanted. Returns the wait in microseconds.
RESERVE_LUA = """
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
tokens = tokens - want
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(t))
local idle_ms = math.ceil(math.max(0, -tokens) / rate * 1000) + 2000
redis.call('PEXPIRE', KEYS[1], idle_ms)
if tokens >= 0 then
  return 0
end
return math.ceil(-tokens / rate * 1000000)
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


def reserve(redis_sync: Redis, provider: str, count: int, *, rate: float) -> float:
    """Take `count` tokens from `provider`'s bucket; the seconds to wait before using them."""
    if count <= 0:
        return 0.0
    script = redis_sync.register_script(RESERVE_LUA)
    micros = script(keys=[KEY.format(provider=provider)], args=[repr(float(rate)), count])
    return int(micros) / 1_000_000


def wait_for(redis_sync: Redis, provider: str, count: int, *, rate: float) -> float:
    """Reserve and sleep until the tokens are due; returns the seconds slept."""
    wait = reserve(redis_sync, provider, count, rate=rate)
    if wait > 0:
        time.sleep(wait)
    return wait


def refund(redis_sync: Redis, provider: str, count: int, *, rate: float) -> None:
    """Give back tokens reserved but not used (the messages were taken by another job)."""
    if count > 0:
        script = redis_sync.register_script(REFUND_LUA)
        script(keys=[KEY.format(provider=provider)], args=[repr(float(rate)), count])
