-- Complete leased jobs whose token still holds.
-- ARGV: retention_ms, durations_cap, then job_id, token, result_ids JSON ('' to keep) triples.
-- Per job: check the lease (HMGET), one HSET, the expiry; the sets are changed once per batch
-- (what finish() in common.lua does per job). The lease fields are blanked rather than deleted so
-- that one HSET does it.
-- Returns 1 per completed job, 0 where the lease was lost.
local retention = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local now = now_ms()
local out = {}
local durations = {}
local done, scored = {}, {}
local by_user, user_order = {}, {}
for i = 3, #ARGV, 3 do
  local jid, token, results = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local jk = key('job', jid)
  local f = redis.call('HMGET', jk, 'status', 'lease_token', 'user_key', 'leased_at')
  if f[1] == 'processing' and f[2] == token then
    if results ~= '' then
      redis.call('HSET', jk, 'status', 'completed', 'finished_at', now, 'error', '', 'next_retry_at', '',
                 'lease_token', '', 'lease_worker', '', 'result_ids', results)
    else
      redis.call('HSET', jk, 'status', 'completed', 'finished_at', now, 'error', '', 'next_retry_at', '',
                 'lease_token', '', 'lease_worker', '')
    end
    redis.call('PEXPIRE', jk, retention)
    done[#done + 1] = jid
    scored[#scored + 1] = now
    scored[#scored + 1] = jid
    local u = by_user[f[3]]
    if not u then
      u = {ids = {}, scored = {}}
      by_user[f[3]] = u
      user_order[#user_order + 1] = f[3]
    end
    u.ids[#u.ids + 1] = jid
    u.scored[#u.scored + 1] = now
    u.scored[#u.scored + 1] = jid
    if f[4] then durations[#durations + 1] = now - tonumber(f[4]) end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
if #done > 0 then
  call_many('ZREM', key('processing'), done)
  call_many('ZADD', key('completed'), scored, 2)
  for _, uk in ipairs(user_order) do
    call_many('SREM', key('user', uk, 'active'), by_user[uk].ids)
    index_done(uk, 'completed', by_user[uk].scored, now, retention)
  end
end
redis.call('ZREMRANGEBYSCORE', key('completed'), '-inf', now - retention)
if #durations > 0 then
  if #durations > cap then
    local last = {}
    for i = #durations - cap + 1, #durations do last[#last + 1] = durations[i] end
    durations = last
  end
  call_many('LPUSH', key('durations'), durations)
  redis.call('LTRIM', key('durations'), 0, cap - 1)
end
return out
