"""How many inbound SMS one number may send: a token bucket per sender in Redis, one round-trip.

Each sender's bucket, keyed by their pseudonym (never the number), holds up to
`sms.per_number_burst` messages and refills at `sms.per_number_per_minute` a minute. An inbound
SMS takes one; with none left it is dropped: acknowledged to the provider, not processed, not
answered. So one number sending a hundred texts a minute gets answers to the first `burst` and
then to about `per_minute` a minute, and cannot make us send a hundred replies or hold up
everyone else's. A person typing on a keypad, reading each reply first, stays far below it.
No "slow down" notice is sent: each would cost an SMS and could loop with a robot, which is
why the help text goes at most once a day too. STOP always gets through (gateway.sms.conversation).

The bucket is read and updated in Lua with Redis's own clock, so every web process shares the
count, and in the same call as the message's duplicate check (`dedupe_and_admit`): one
round-trip for both, and nothing more written for a message dropped by either. The script also
says whether a refusal is the first since the sender was last let through, so a flood is logged
once per run of refusals (at most `per_minute` lines a minute), not once per message.
`per_number_per_minute = 0` turns the limit off.

>>> await dedupe_and_admit(redis, key, token, contact, settings.sms,
...                        pending_seconds=60, limited=True)   # "allowed"
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Literal

from redis.exceptions import NoScriptError

if TYPE_CHECKING:
    from gateway.config import SmsSettings

KEY = "gw:sms:rate:{contact}"

# The duplicate check of one inbound SMS, then its sender's bucket, in one call.
# KEYS[1] the message's dedupe key, KEYS[2] the sender's bucket.
# ARGV[1] this attempt's token (the key's value while it is processed), ARGV[2] its expiry
# (seconds), ARGV[3] the expiry of a dropped message's key (the dedupe window), ARGV[4] "1" to
# take a token, "0" not to (STOP; the limit off), ARGV[5] tokens a minute, ARGV[6] bucket size.
# Returns 2 (a duplicate), 1 (let through), 0 (refused, the first time in a row) or -1 (refused
# again); a refused message's key is kept for the dedupe window at once.
# The key holding this attempt's own token is not a duplicate: a call resent after a lost
# reply (a client retrying on a new connection) must not drop the message it let in.
DEDUPE_ADMIT_LUA = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 2 end
end
if ARGV[4] ~= '1' then return 1 end
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local per_ms = tonumber(ARGV[5]) / 60000
local burst = tonumber(ARGV[6])
local state = redis.call('HMGET', KEYS[2], 'tokens', 'at', 'refused')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or t
tokens = math.min(burst, tokens + math.max(0, t - at) * per_ms)
local answer = 1
local refused = '0'
if tokens >= 1 then
  tokens = tokens - 1
elseif state[3] == '1' then
  answer, refused = -1, '1'
else
  answer, refused = 0, '1'
end
redis.call('HSET', KEYS[2], 'tokens', tostring(tokens), 'at', tostring(t), 'refused', refused)
redis.call('PEXPIRE', KEYS[2], math.ceil((burst - tokens) / per_ms) + 1000)
if answer ~= 1 then redis.call('SET', KEYS[1], 'done', 'EX', ARGV[3]) end
return answer
"""
DEDUPE_ADMIT_SHA = hashlib.sha1(DEDUPE_ADMIT_LUA.encode()).hexdigest()

Outcome = Literal["duplicate", "allowed", "refused", "refused_first"]
_OUTCOMES: dict[int, Outcome] = {2: "duplicate", 1: "allowed", 0: "refused_first",
                                 -1: "refused"}


async def dedupe_and_admit(
    redis: Any, dedupe_key: str, token: str, contact: str, sms: SmsSettings, *,
    pending_seconds: int, limited: bool,
) -> Outcome:
    """Claim `dedupe_key` for this message (as `token`, for `pending_seconds`) and, when
    `limited`, take one message from `contact`'s bucket, in one call. A dropped message's key
    is kept for sms.dedupe_seconds at once: nothing else is written for it.

    `redis` is redis-py's asyncio client or the web process's lean one (gateway.hop_redis):
    anything with `evalsha` and `script_load` as redis-py has them.
    """
    take = "1" if limited and sms.per_number_per_minute > 0 else "0"
    args = (2, dedupe_key, KEY.format(contact=contact), token, pending_seconds,
            sms.dedupe_seconds, take, sms.per_number_per_minute, sms.per_number_burst)
    try:
        answer = await redis.evalsha(DEDUPE_ADMIT_SHA, *args)
    except NoScriptError:  # a Redis restarted, or flushed, since: load it again
        await redis.script_load(DEDUPE_ADMIT_LUA)
        answer = await redis.evalsha(DEDUPE_ADMIT_SHA, *args)
    return _OUTCOMES[int(answer)]
