-- Enqueue a batch of jobs, all or nothing on the pending cap.
-- Histories ({prefix}:all, user:<u>:jobs) are scored now * 1000 + a sequence number modulo 1000, so
-- jobs of one millisecond keep their enqueue order and trimming by time still works.
-- ARGV: max_pending (0: none), dedup_ttl_s, retention_ms, n, quota_window_ms, then per job:
--   job_id, user_key, priority, dedup_key ('' for none), the hash as a JSON object of strings,
--   quota (the user's photos per window; -1: no limit).
-- Quota: quota:<user> holds the user's counted jobs scored by enqueue time; a new job counts when
-- fewer than `quota` are younger than the window (a rolling window, not a calendar day). A refusal
-- is counted in quota_refused:<UTC day number>.
-- (One JSON argument per job rather than one argument per field: encoding arguments is what
-- costs most on the client.)
-- Per job the script writes only the hash (one HSET) and the dedup key; the sets and lists a job
-- joins are written once per batch (per tier, per user) with variadic commands, in the order the
-- jobs came, so a batch costs what one job costs plus a few commands per user.
-- Returns {now, {flag, job_id, hash}...} where flag 1 = created, 0 = existing (dedup or same id,
-- hash is the existing job); or {-1, user_key} when a user's cap would be passed, or
-- {-2, user_key, next_unit_ms, quota} when a user's quota would be passed (no job written).
local max_pending = tonumber(ARGV[1])
local dedup_ttl = tonumber(ARGV[2])
local retention = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local quota_window = tonumber(ARGV[5])
local now = now_ms()
local jobs = {}
local seen = {}
local active_of = {}
local counted_of = {}
local pos = 6
for i = 1, n do
  local j = {jid = ARGV[pos], uk = ARGV[pos + 1], prio = ARGV[pos + 2], dedup = ARGV[pos + 3],
             payload = ARGV[pos + 4], quota = tonumber(ARGV[pos + 5])}
  pos = pos + 6
  local existing = nil
  if j.dedup ~= '' then
    existing = seen['d:' .. j.dedup]
    if not existing then
      local found = redis.call('GET', key('dedup', j.dedup))
      if found and redis.call('EXISTS', key('job', found)) == 1 then existing = found end
    end
  end
  if not existing then
    if seen['j:' .. j.jid] or redis.call('EXISTS', key('job', j.jid)) == 1 then existing = j.jid end
  end
  if existing then
    j.existing = existing
  else
    seen['j:' .. j.jid] = j.jid
    if j.dedup ~= '' then seen['d:' .. j.dedup] = j.jid end
    if max_pending > 0 then
      local c = active_of[j.uk]
      if c == nil then c = redis.call('SCARD', key('user', j.uk, 'active')) end
      c = c + 1
      active_of[j.uk] = c
      if c > max_pending then return {-1, j.uk} end
    end
    if j.quota >= 0 then
      local qk = key('quota', j.uk)
      local c = counted_of[j.uk]
      if c == nil then
        redis.call('ZREMRANGEBYSCORE', qk, '-inf', now - quota_window)
        c = redis.call('ZCARD', qk)
      end
      c = c + 1
      counted_of[j.uk] = c
      if c > j.quota then
        local oldest = redis.call('ZRANGE', qk, 0, 0, 'WITHSCORES')
        local next_unit = now + quota_window
        if #oldest > 0 then next_unit = tonumber(oldest[2]) + quota_window end
        local refused = key('quota_refused', math.floor(now / 86400000))
        redis.call('INCR', refused)
        redis.call('EXPIRE', refused, 3 * 86400)
        return {-2, j.uk, next_unit, j.quota}
      end
    end
  end
  jobs[i] = j
end

local created = 0
local seq = redis.call('INCRBY', key('seq'), n) - n
-- Per tier: its jobs (age set), its users in order of first appearance, each user's jobs in order.
local tiers, tier_order = {}, {}
local users, user_order = {}, {}
local pending, all = {}, {}
local counted, counted_order = {}, {}  -- per user: the jobs their quota counts (score, member)
for i = 1, n do
  local j = jobs[i]
  if not j.existing then
    local jk = key('job', j.jid)
    local fields = {}
    for name, value in pairs(cjson.decode(j.payload)) do
      fields[#fields + 1] = name
      fields[#fields + 1] = value
    end
    fields[#fields + 1] = 'status'
    fields[#fields + 1] = 'pending'
    fields[#fields + 1] = 'enqueued_at'
    fields[#fields + 1] = now
    fields[#fields + 1] = 'user_key'
    fields[#fields + 1] = j.uk
    redis.call('HSET', jk, unpack(fields))
    if j.dedup ~= '' then redis.call('SET', key('dedup', j.dedup), j.jid, 'EX', dedup_ttl) end
    if j.quota >= 0 then
      local q = counted[j.uk]
      if not q then
        q = {}
        counted[j.uk] = q
        counted_order[#counted_order + 1] = j.uk
      end
      q[#q + 1] = now
      q[#q + 1] = j.jid
    end
    local t = tiers[j.prio]
    if not t then
      t = {age = {}, users = {}, user_order = {}}
      tiers[j.prio] = t
      tier_order[#tier_order + 1] = j.prio
    end
    t.age[#t.age + 1] = now
    t.age[#t.age + 1] = j.jid
    local q = t.users[j.uk]
    if not q then
      q = {}
      t.users[j.uk] = q
      t.user_order[#t.user_order + 1] = j.uk
    end
    q[#q + 1] = j.jid
    local u = users[j.uk]
    if not u then
      u = {active = {}, history = {}}
      users[j.uk] = u
      user_order[#user_order + 1] = j.uk
    end
    local order = now * 1000 + (seq + i) % 1000
    u.active[#u.active + 1] = j.jid
    u.history[#u.history + 1] = order
    u.history[#u.history + 1] = j.jid
    pending[#pending + 1] = now
    pending[#pending + 1] = j.jid
    all[#all + 1] = order
    all[#all + 1] = j.jid
    created = created + 1
  end
end

if created > 0 then
  -- add_pending, once per tier and user: a user joins the ring when its FIFO was empty.
  for _, prio in ipairs(tier_order) do
    local t = tiers[prio]
    redis.call('ZADD', KEYS[1], tonumber(prio), prio)
    call_many('ZADD', key('age', prio), t.age, 2)
    local joined = {}
    for _, uk in ipairs(t.user_order) do
      local q = t.users[uk]
      local len = 0
      local uq = key('uq', prio, uk)
      for a = 1, #q, UNPACK_MAX do
        len = redis.call('RPUSH', uq, unpack(q, a, math.min(#q, a + UNPACK_MAX - 1)))
      end
      if len == #q then joined[#joined + 1] = uk end
    end
    if #joined > 0 then call_many('RPUSH', key('ring', prio), joined) end
  end
  call_many('ZADD', key('pending'), pending, 2)
  for _, uk in ipairs(user_order) do
    local u = users[uk]
    call_many('SADD', key('user', uk, 'active'), u.active)
    local hist = key('user', uk, 'jobs')
    call_many('ZADD', hist, u.history, 2)
    redis.call('ZREMRANGEBYSCORE', hist, '-inf', (now - retention) * 1000)
  end
  for _, uk in ipairs(counted_order) do
    call_many('ZADD', key('quota', uk), counted[uk], 2)
    redis.call('PEXPIRE', key('quota', uk), quota_window)
  end
  call_many('ZADD', key('all'), all, 2)
  redis.call('ZREMRANGEBYSCORE', key('all'), '-inf', (now - retention) * 1000)
end
wake(created)

local out = {now}
for i = 1, n do
  local j = jobs[i]
  if j.existing then
    out[#out + 1] = {0, j.existing, redis.call('HGETALL', key('job', j.existing))}
  else
    out[#out + 1] = {1, j.jid, {}}
  end
end
return out
