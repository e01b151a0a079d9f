-- Helpers shared by every queue script, prepended to each one when the queue is built.
--
-- KEYS[1] is always '<prefix>:tiers', a real key, so that a cluster client routes the call to the
-- slot of the prefix's hash tag ({photobot}); every other key is built from the same prefix and so
-- lives in that slot too. Time is the server's (TIME), so that leases, retries and aging agree
-- between processes on different hosts.
local PREFIX = string.sub(KEYS[1], 1, -7)
local WAKE_CAP = 64

local function key(...)
  return PREFIX .. ':' .. table.concat({...}, ':')
end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Run a variadic command (ZADD, RPUSH, SADD, ZREM...) over a long list of arguments in pieces that
-- stay under Lua's limit on unpack(); `step` keeps pairs (score, member) together.
local UNPACK_MAX = 4000
local function call_many(cmd, k, args, step)
  local n = #args
  local i = 1
  while i <= n do
    local j = math.min(n, i + UNPACK_MAX - 1)
    j = j - ((j - i + 1) % (step or 1))
    redis.call(cmd, k, unpack(args, i, j))
    i = j + 1
  end
end

-- Wake up to n idle workers blocked on the wake list; the list is capped so it never grows.
local function wake(n)
  if n <= 0 then return end
  if n > WAKE_CAP then n = WAKE_CAP end
  local tokens = {}
  for i = 1, n do tokens[i] = '1' end
  redis.call('LPUSH', key('wake'), unpack(tokens))
  redis.call('LTRIM', key('wake'), 0, WAKE_CAP - 1)
end

-- Make a job pending in its tier. Invariant: a user is in ring:<P> exactly when uq:<P>:<user> is
-- not empty, once. A lease given back goes to the front (it keeps its turn); anything else queues
-- at the back.
-- known_tier: the caller has already registered prio in the tiers set (a batch does it once).
local function add_pending(jid, uk, prio, score, at_front, known_tier)
  local uq = key('uq', prio, uk)
  local n
  if at_front then n = redis.call('LPUSH', uq, jid) else n = redis.call('RPUSH', uq, jid) end
  if n == 1 then
    if at_front then redis.call('LPUSH', key('ring', prio), uk)
    else redis.call('RPUSH', key('ring', prio), uk) end
  end
  redis.call('ZADD', key('age', prio), score, jid)
  redis.call('ZADD', key('pending'), score, jid)
  if not known_tier then redis.call('ZADD', KEYS[1], tonumber(prio), prio) end
end

local function remove_pending(jid, uk, prio)
  local uq = key('uq', prio, uk)
  redis.call('LREM', uq, 1, jid)
  if redis.call('LLEN', uq) == 0 then redis.call('LREM', key('ring', prio), 0, uk) end
  redis.call('ZREM', key('age', prio), jid)
  redis.call('ZREM', key('pending'), jid)
  if redis.call('ZCARD', key('age', prio)) == 0 then redis.call('ZREM', KEYS[1], prio) end
end

-- A job cancelled, or failed on photobot's side, does not count against its user's quota.
local function give_quota_back(jid, uk)
  redis.call('ZREM', key('quota', uk), jid)
end

-- The user's finished jobs of one final status, by finish time: what a status-filtered history
-- reads, a page at a time, instead of walking the user's whole history. Entries older than the
-- retention go with their hashes.
local function user_done(uk, status)
  return key('user', uk, 'done', status)
end

local function index_done(uk, status, jids_scored, now, retention_ms)
  local idx = user_done(uk, status)
  call_many('ZADD', idx, jids_scored, 2)
  redis.call('ZREMRANGEBYSCORE', idx, '-inf', now - retention_ms)
end

-- A final state: recorded in its set by finish time, in the user's index of that status, out of
-- the user's active set, and the hash expires with the retention so finished jobs do not pile up.
-- no_trim: the caller trims the set once for a whole batch.
local function finish(jid, jk, uk, status, now, retention_ms, no_trim)
  redis.call('HSET', jk, 'status', status, 'finished_at', now)
  redis.call('HDEL', jk, 'lease_token', 'lease_worker')
  local set = key(status)
  redis.call('ZADD', set, now, jid)
  if not no_trim then redis.call('ZREMRANGEBYSCORE', set, '-inf', now - retention_ms) end
  redis.call('SREM', key('user', uk, 'active'), jid)
  index_done(uk, status, {now, jid}, now, retention_ms)
  redis.call('PEXPIRE', jk, retention_ms)
end

-- A leased job that did not succeed: retrying with exponential backoff while attempts are left and
-- the error is transient, failed otherwise. jitter is in [0.5, 1.0].
local function retry_or_fail(jid, jk, now, transient, err_json, base_ms, max_ms, jitter, retention_ms)
  local f = redis.call('HMGET', jk, 'attempts', 'max_attempts', 'user_key')
  local attempts = tonumber(f[1]) or 1
  local max_attempts = tonumber(f[2]) or 1
  redis.call('ZREM', key('processing'), jid)
  redis.call('HSET', jk, 'error', err_json)
  if transient and attempts < max_attempts then
    local delay = math.min(max_ms, base_ms * 2 ^ (math.max(attempts, 1) - 1)) * jitter
    local due = now + math.floor(delay)
    redis.call('HSET', jk, 'status', 'retrying', 'next_retry_at', due)
    redis.call('HDEL', jk, 'lease_token', 'lease_worker')
    redis.call('ZADD', key('retry'), due, jid)
    return 'retrying'
  end
  redis.call('HSET', jk, 'next_retry_at', '')
  finish(jid, jk, f[3], 'failed', now, retention_ms)
  return 'failed'
end
