-- Enqueue a batch of jobs, all or nothing on the pending cap.
-- Histories ({prefix}:all, user:<u>:jobs) are scored now * 1000 + a sequence number modulo 1000, so
-- jobs of one millisecond keep their enqueue order and trimming by time still works.
-- ARGV: max_pending (0: none), dedup_ttl_s, retention_ms, n, then per job:
--   job_id, user_key, priority, dedup_key ('' for none), nfields, field, value, ...
-- Returns {now, {flag, job_id, hash}...} where flag 1 = created, 0 = existing (dedup or same id,
-- hash is the existing job); or {-1, user_key} when a user's cap would be passed (nothing written).
local max_pending = tonumber(ARGV[1])
local dedup_ttl = tonumber(ARGV[2])
local retention = tonumber(ARGV[3])
local n = tonumber(ARGV[4])
local now = now_ms()
local jobs = {}
local seen = {}
local new_per_user = {}
local pos = 5
for i = 1, n do
  local j = {jid = ARGV[pos], uk = ARGV[pos + 1], prio = ARGV[pos + 2], dedup = ARGV[pos + 3],
             nf = tonumber(ARGV[pos + 4]), fstart = pos + 5}
  pos = pos + 5 + 2 * j.nf
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
    local c = (new_per_user[j.uk] or 0) + 1
    new_per_user[j.uk] = c
    if max_pending > 0 and redis.call('SCARD', key('user', j.uk, 'active')) + c > max_pending then
      return {-1, j.uk}
    end
  end
  jobs[i] = j
end

local created = 0
for i = 1, n do
  local j = jobs[i]
  if not j.existing then
    local jk = key('job', j.jid)
    local fields = {}
    for f = 0, j.nf - 1 do
      fields[#fields + 1] = ARGV[j.fstart + 2 * f]
      fields[#fields + 1] = ARGV[j.fstart + 2 * f + 1]
    end
    redis.call('HSET', jk, unpack(fields))
    redis.call('HSET', jk, 'status', 'pending', 'enqueued_at', now, 'user_key', j.uk)
    add_pending(j.jid, j.uk, j.prio, now, false)
    redis.call('SADD', key('user', j.uk, 'active'), j.jid)
    local order = now * 1000 + redis.call('INCR', key('seq')) % 1000
    redis.call('ZADD', key('user', j.uk, 'jobs'), order, j.jid)
    redis.call('ZREMRANGEBYSCORE', key('user', j.uk, 'jobs'), '-inf', (now - retention) * 1000)
    redis.call('ZADD', key('all'), order, j.jid)
    if j.dedup ~= '' then redis.call('SET', key('dedup', j.dedup), j.jid, 'EX', dedup_ttl) end
    created = created + 1
  end
end
if created > 0 then redis.call('ZREMRANGEBYSCORE', key('all'), '-inf', (now - retention) * 1000) end
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
