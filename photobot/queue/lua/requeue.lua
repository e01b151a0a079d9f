-- Failed jobs back to pending with their attempts reset (an operator's decision, so the pending
-- cap does not apply). ARGV: 'one', job_id | 'all', limit.
-- 'one' returns {'ok', hash}, {'missing'} or {'state', status}; 'all' returns how many.
local now = now_ms()
local function requeue(jid)
  local jk = key('job', jid)
  local f = redis.call('HMGET', jk, 'status', 'user_key', 'priority')
  if f[1] ~= 'failed' then return f[1] end
  redis.call('ZREM', key('failed'), jid)
  redis.call('ZREM', user_done(f[2], 'failed'), jid)
  redis.call('PERSIST', jk)
  redis.call('HSET', jk, 'status', 'pending', 'attempts', 0, 'error', '', 'next_retry_at', '',
             'finished_at', '', 'started_at', '', 'enqueued_at', now)
  redis.call('SADD', key('user', f[2], 'active'), jid)
  add_pending(jid, f[2], f[3], now, false)
  return 'ok'
end
if ARGV[1] == 'one' then
  local status = requeue(ARGV[2])
  if status == 'ok' then
    wake(1)
    return {'ok', redis.call('HGETALL', key('job', ARGV[2]))}
  end
  if not status then return {'missing'} end
  return {'state', status}
end
local ids = redis.call('ZRANGE', key('failed'), 0, tonumber(ARGV[2]) - 1)
local n = 0
for _, jid in ipairs(ids) do
  if requeue(jid) == 'ok' then n = n + 1 else redis.call('ZREM', key('failed'), jid) end
end
wake(n)
return n
