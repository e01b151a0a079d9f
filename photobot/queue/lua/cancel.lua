-- Cancel a pending or retrying job. ARGV: job_id, user_key ('' for any), retention_ms.
-- Returns {'ok', hash}, {'missing'} (also for another user's job) or {'state', status}.
local jid = ARGV[1]
local jk = key('job', jid)
local f = redis.call('HMGET', jk, 'status', 'user_key', 'priority')
if not f[1] or (ARGV[2] ~= '' and ARGV[2] ~= f[2]) then return {'missing'} end
if f[1] == 'pending' then
  remove_pending(jid, f[2], f[3])
elseif f[1] == 'retrying' then
  redis.call('ZREM', key('retry'), jid)
  redis.call('HSET', jk, 'next_retry_at', '')
else
  return {'state', f[1]}
end
finish(jid, jk, f[2], 'cancelled', now_ms(), tonumber(ARGV[3]))
give_quota_back(jid, f[2])
return {'ok', redis.call('HGETALL', jk)}
