"""How many inbound SMS one number may send: a token bucket per sender in Redis, one round-trip.

Each sender's bucket, keyed by their pseudonym (never the number), holds up to
`sms.per_number_burst` messages and refills at `sms.per_number_per_minute` a minute. An inbound
SMS takes one; with none left it is dropped: acknowledged to the provider, not processed, not
answered. So one number sending a hundred texts a minute gets answers to the first `burst` and
then to about `per_minute` a minute, and cannot make us send a hundred replies or hold up
everyone else's. A person typing on a keypad, reading each reply first, stays far below it.
No "slow down" notice is sent: each would cost an SMS and could loop with a robot, which is
why the help text goes at most once a day too. STOP always gets through (gateway.sms.conversation).

One Lua call reads and updates the bucket with Redis's own clock, so every web process shares
the count. It also says whether a refusal is the first since the sender was last let through,
so a flood is logged once per run of refusals (at most `per_minute` lines a minute), not once
per message. `per_number_per_minute = 0` turns it off.

>>> await admit(redis, contact, settings.sms)   # Admission(allowed=True, first_refusal=False)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from gateway.config import SmsSettings

KEY = "gw:sms:rate:{contact}"

# KEYS[1] the sender's bucket (a hash); ARGV: tokens a minute, bucket size.
# Returns 1 (let through), 0 (refused, first time in a row) or -1 (refused again).
ADMIT_LUA = """
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local per_ms = tonumber(ARGV[1]) / 60000
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'refused')
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
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(t), 'refused', refused)
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / per_ms) + 1000)
return answer
"""


@dataclass(frozen=True)
class Admission:
    allowed: bool
    first_refusal: bool = False  # refused, and the sender was let through just before


ALLOWED = Admission(True)


async def admit(redis: Redis, contact: str, sms: SmsSettings) -> Admission:
    """Take one message from `contact`'s bucket (one Redis call; none when the limit is off)."""
    if sms.per_number_per_minute <= 0:
        return ALLOWED
    script = redis.register_script(ADMIT_LUA)
    answer = int(await script(
        keys=[KEY.format(contact=contact)],
        args=[sms.per_number_per_minute, sms.per_number_burst],
    ))
    if answer == 1:
        return ALLOWED
    return Admission(False, first_refusal=answer == 0)
