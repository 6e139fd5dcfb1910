"""The Lua scripts that are policy's whole conversation with its state Redis.

``ADMIT`` decides a request against every limit of its key in one atomic round trip and
consumes nothing unless all pass. Both are idempotent by request id, so a call re-run
after its answer was lost counts once. ``SETTLE`` charges what a finished request really used,
returns the rest of its reservation and frees its concurrency slot. ``ADMIT_HIT`` admits
a request the response cache answers: it only counts.

Every admitted request holds a lease in the in-flight set until it is settled. A lease
that expires unsettled belonged to a policy replica that died mid-request: the next
admission of that key reaps it, freeing the slot and returning the reservation (the
client never got a complete answer), so a crash leaks neither slots nor tokens. Both take the time
from Redis itself (``TIME``), so replicas with skewed clocks still share one window.
Every key a script touches is passed in KEYS with the key's hash tag (Redis Cluster).
"""

from __future__ import annotations

# The per-minute request limit, which ADMIT and ADMIT_HIT share: KEYS[1] is the rpm log;
# ``now``, ``since``, ``window``, ``rpm`` and ``rid`` are set before.
_RPM_CHECK = """\
local req_left, req_reset = -1, 0
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', since)
  local count = redis.call('ZCARD', KEYS[1])
  if count >= rpm then
    local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
    local wait = tonumber(oldest[2]) + window - now
    return {0, 'requests', wait, 0, wait, -1, 0}
  end
  req_left = rpm - count - 1
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if oldest[2] then req_reset = tonumber(oldest[2]) + window - now else req_reset = window end
end
"""
_RPM_CONSUME = """\
if rpm > 0 then
  redis.call('ZADD', KEYS[1], now, rid)
  redis.call('PEXPIRE', KEYS[1], window + 1000)
end
"""

# KEYS: 1 rpm log, 2 tpm log, 3 tpm amounts, 4 tpm sum, 5 inflight, 6 day usage,
#       7 month usage, 8 inflight reservations, 9 inflight cost reservations,
#       10 group day usage, 11 group month usage (the key's own 6 and 7 when ungrouped)
# ARGV: 1 request id, 2 window ms, 3 rpm, 4 tpm, 5 max concurrent, 6 daily tokens,
#       7 monthly tokens, 8 token estimate, 9 lease ms, 10 day ttl s, 11 month ttl s,
#       12 daily budget, 13 monthly budget, 14 group daily budget, 15 group monthly
#       budget (budgets and costs in nano-USD), 16 worst-case cost, 17 grouped (1 or 0)
# A limit of 0 is "no limit". Returns {admitted, reason, retry_after_ms,
#   requests_remaining, requests_reset_ms, tokens_remaining, tokens_reset_ms,
#   budget_remaining}: the least left of any budget (after this reservation when
#   admitted), -1 when there is none (a refusal for requests per minute has no
#   budget_remaining; the limiter reads it as -1).
ADMIT = (
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rid = ARGV[1]
local window = tonumber(ARGV[2])
local rpm, tpm, conc = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local daily, monthly = tonumber(ARGV[6]), tonumber(ARGV[7])
local est = tonumber(ARGV[8])
local lease = tonumber(ARGV[9])
local cost = tonumber(ARGV[16])
local grouped = ARGV[17] == '1'
local since = now - window

-- Admitted already: a call re-run after its answer was lost (a timeout, a failover)
-- consumes nothing twice.
if redis.call('ZSCORE', KEYS[5], rid) then return {1, '', 0, -1, 0, -1, 0, -1} end

local dead = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, 100)
for i = 1, #dead do
  local held = tonumber(redis.call('HGET', KEYS[8], dead[i]) or '0')
  local held_cost = tonumber(redis.call('HGET', KEYS[9], dead[i]) or '0')
  redis.call('HINCRBY', KEYS[6], 'tokens', -held)
  redis.call('HINCRBY', KEYS[7], 'tokens', -held)
  if held_cost > 0 then
    redis.call('HINCRBY', KEYS[6], 'cost', -held_cost)
    redis.call('HINCRBY', KEYS[7], 'cost', -held_cost)
    if grouped then
      redis.call('HINCRBY', KEYS[10], 'cost', -held_cost)
      redis.call('HINCRBY', KEYS[11], 'cost', -held_cost)
    end
  end
  redis.call('HDEL', KEYS[8], dead[i])
  redis.call('HDEL', KEYS[9], dead[i])
  redis.call('ZREM', KEYS[5], dead[i])
end

"""
    + _RPM_CHECK
    + """
local tok_left, tok_reset = -1, 0
if tpm > 0 then
  -- Expire old entries in bounded batches (unpack has a stack limit).
  while true do
    local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', since, 'LIMIT', 0, 500)
    if #expired == 0 then break end
    local amounts = redis.call('HMGET', KEYS[3], unpack(expired))
    local freed = 0
    for i = 1, #amounts do freed = freed + (tonumber(amounts[i]) or 0) end
    redis.call('HDEL', KEYS[3], unpack(expired))
    redis.call('ZREM', KEYS[2], unpack(expired))
    redis.call('DECRBY', KEYS[4], freed)
  end
  local used = tonumber(redis.call('GET', KEYS[4]) or '0')
  if est > tpm then
    return {0, 'tokens_too_large', -1, req_left, req_reset, tpm - used, 0, -1}
  end
  if used + est > tpm then
    -- When enough of the oldest reservations leave the window for this one to fit.
    local wait = window
    local need = used + est - tpm
    local entries = redis.call('ZRANGE', KEYS[2], 0, 499, 'WITHSCORES')
    for i = 1, #entries, 2 do
      need = need - (tonumber(redis.call('HGET', KEYS[3], entries[i])) or 0)
      if need <= 0 then wait = tonumber(entries[i + 1]) + window - now; break end
    end
    return {0, 'tokens', wait, req_left, req_reset, math.max(0, tpm - used), wait, -1}
  end
  tok_left = tpm - used - est
  local oldest = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if oldest[2] then tok_reset = tonumber(oldest[2]) + window - now else tok_reset = window end
end

if conc > 0 then
  if redis.call('ZCARD', KEYS[5]) >= conc then
    return {0, 'concurrency', 1000, req_left, req_reset, tok_left, tok_reset, -1}
  end
end

if daily > 0 then
  local used = tonumber(redis.call('HGET', KEYS[6], 'tokens') or '0')
  if used + est > daily then
    return {0, 'daily_quota', -1, req_left, req_reset, tok_left, tok_reset, -1}
  end
end
if monthly > 0 then
  local used = tonumber(redis.call('HGET', KEYS[7], 'tokens') or '0')
  if used + est > monthly then
    return {0, 'monthly_quota', -1, req_left, req_reset, tok_left, tok_reset, -1}
  end
end

-- USD budgets, against each period's charged-plus-reserved cost.
local budget_left = -1
local budgets = {
  {KEYS[6], tonumber(ARGV[12]), 'daily_budget'},
  {KEYS[7], tonumber(ARGV[13]), 'monthly_budget'},
  {KEYS[10], grouped and tonumber(ARGV[14]) or 0, 'group_daily_budget'},
  {KEYS[11], grouped and tonumber(ARGV[15]) or 0, 'group_monthly_budget'},
}
for i = 1, #budgets do
  local key, limit, reason = budgets[i][1], budgets[i][2], budgets[i][3]
  if limit > 0 then
    local spent = tonumber(redis.call('HGET', key, 'cost') or '0')
    if spent + cost > limit then
      return {0, reason, -1, req_left, req_reset, tok_left, tok_reset, math.max(0, limit - spent)}
    end
    local left = limit - spent - cost
    if budget_left < 0 or left < budget_left then budget_left = left end
  end
end

-- Every limit passed: consume.
"""
    + _RPM_CONSUME
    + """if tpm > 0 then
  redis.call('ZADD', KEYS[2], now, rid)
  redis.call('HSET', KEYS[3], rid, est)
  redis.call('INCRBY', KEYS[4], est)
  for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], window + 1000) end
end
-- No expiry on the lease set: an unsettled lease must stay until it is reaped.
redis.call('ZADD', KEYS[5], now + lease, rid)
redis.call('HSET', KEYS[8], rid, est)
redis.call('HINCRBY', KEYS[6], 'tokens', est)
redis.call('EXPIRE', KEYS[6], tonumber(ARGV[10]))
redis.call('HINCRBY', KEYS[7], 'tokens', est)
redis.call('EXPIRE', KEYS[7], tonumber(ARGV[11]))
if cost > 0 then
  redis.call('HSET', KEYS[9], rid, ARGV[16])
  redis.call('HINCRBY', KEYS[6], 'cost', ARGV[16])
  redis.call('HINCRBY', KEYS[7], 'cost', ARGV[16])
  if grouped then
    redis.call('HINCRBY', KEYS[10], 'cost', ARGV[16])
    redis.call('EXPIRE', KEYS[10], tonumber(ARGV[10]))
    redis.call('HINCRBY', KEYS[11], 'cost', ARGV[16])
    redis.call('EXPIRE', KEYS[11], tonumber(ARGV[11]))
  end
end
return {1, '', 0, req_left, req_reset, tok_left, tok_reset, budget_left}
"""
)

# KEYS: 1 tpm log, 2 tpm amounts, 3 tpm sum, 4 inflight, 5 day usage, 6 month usage,
#       7 inflight reservations, 8 inflight cost reservations, 9 group day usage,
#       10 group month usage (the key's own 5 and 6 when ungrouped), 11 the request's
#       settled marker
# Returns {day tokens, month tokens}: the periods' charged-plus-reserved totals after it.
# ARGV: 1 request id, 2 tokens reserved at admission, 3 prompt tokens,
#       4 completion tokens, 5 model, 6 day ttl s, 7 month ttl s, 8 cached prompt tokens,
#       9 reasoning tokens (both already counted in 3 and 4), 10 marker ttl s, 11 cost
#       reserved at admission, 12 cost (-1: unknown; both nano-USD), 13 grouped (1 or 0)
# The marker makes a settlement applied twice (a replay of one whose answer was lost)
# count once. It is written by the same script as the charge, so it replicates with it:
# a replica promoted without the marker is also without the charge.
SETTLE = """
if not redis.call('SET', KEYS[11], '1', 'NX', 'EX', tonumber(ARGV[10])) then
  return {tonumber(redis.call('HGET', KEYS[5], 'tokens') or '0'),
          tonumber(redis.call('HGET', KEYS[6], 'tokens') or '0')}
end
local rid = ARGV[1]
local reserved = tonumber(ARGV[2])
local prompt, completion = tonumber(ARGV[3]), tonumber(ARGV[4])
local actual = prompt + completion
local model = ARGV[5]
local cached, reasoning = tonumber(ARGV[8]), tonumber(ARGV[9])
local reserved_cost, cost = tonumber(ARGV[11]), tonumber(ARGV[12])
local charged = math.max(cost, 0)
-- A lease reaped before this settlement has already given the reservation back.
if (reserved > 0 or reserved_cost > 0) and redis.call('ZREM', KEYS[4], rid) == 0 then
  reserved, reserved_cost = 0, 0
end
redis.call('HDEL', KEYS[7], rid)
redis.call('HDEL', KEYS[8], rid)
local held = redis.call('HGET', KEYS[2], rid)
if held then
  redis.call('HSET', KEYS[2], rid, actual)
  redis.call('INCRBY', KEYS[3], actual - tonumber(held))
end
local totals = {}
for i = 5, 6 do
  totals[i - 4] = redis.call('HINCRBY', KEYS[i], 'tokens', actual - reserved)
  -- A failed request (model '') releases its reservation and is not usage; nor may the
  -- unknown model names a client sends grow the hash.
  if model ~= '' then
    redis.call('HINCRBY', KEYS[i], 'requests', 1)
    redis.call('HINCRBY', KEYS[i], model .. '|requests', 1)
    redis.call('HINCRBY', KEYS[i], model .. '|prompt_tokens', prompt)
    redis.call('HINCRBY', KEYS[i], model .. '|completion_tokens', completion)
    if cached > 0 then redis.call('HINCRBY', KEYS[i], model .. '|cached_tokens', cached) end
    if reasoning > 0 then
      redis.call('HINCRBY', KEYS[i], model .. '|reasoning_tokens', reasoning)
    end
  end
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[i + 1]))
end
-- Cost: the key's periods per model, and the group's periods as a whole.
local cost_keys = {KEYS[5], KEYS[6]}
if ARGV[13] == '1' then cost_keys = {KEYS[5], KEYS[6], KEYS[9], KEYS[10]} end
for i = 1, #cost_keys do
  local key = cost_keys[i]
  if charged ~= reserved_cost then redis.call('HINCRBY', key, 'cost', charged - reserved_cost) end
  if model ~= '' then
    local prefix = (i <= 2) and (model .. '|') or ''
    if i > 2 then redis.call('HINCRBY', key, 'requests', 1) end
    if cost >= 0 then
      redis.call('HINCRBY', key, prefix .. 'cost_nusd', cost)
    else
      redis.call('HINCRBY', key, prefix .. 'unpriced_requests', 1)
    end
  end
  redis.call('EXPIRE', key, tonumber(ARGV[6 + (i - 1) % 2]))
end
return totals
"""

# A response cache hit (policy.cache): counted against rpm, and as a hit in the day's and
# month's usage, with nothing reserved, no lease and no settlement - no tokens are used.
# KEYS: 1 rpm log, 2 day usage, 3 month usage
# ARGV: 1 request id, 2 window ms, 3 rpm, 4 model, 5 day ttl s, 6 month ttl s
# Returns ADMIT's reply.
ADMIT_HIT = (
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rid = ARGV[1]
local window = tonumber(ARGV[2])
local rpm = tonumber(ARGV[3])
local since = now - window
-- Counted already (a call re-run after its answer was lost): nothing twice. Without an
-- rpm limit there is no log to tell, and a re-run counts the hit twice.
if rpm > 0 and redis.call('ZSCORE', KEYS[1], rid) then return {1, '', 0, -1, 0, -1, 0} end
"""
    + _RPM_CHECK
    + _RPM_CONSUME
    + """
for i = 2, 3 do
  redis.call('HINCRBY', KEYS[i], 'cache_hits', 1)
  redis.call('HINCRBY', KEYS[i], ARGV[4] .. '|cache_hits', 1)
  redis.call('EXPIRE', KEYS[i], tonumber(ARGV[i + 3]))
end
return {1, '', 0, req_left, req_reset, -1, 0}
"""
)
