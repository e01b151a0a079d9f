-- Retries whose time has come go back to pending, at the back of their user's queue.
-- ARGV: limit. Returns how many were promoted.
local now = now_ms()
local due = redis.call('ZRANGEBYSCORE', key('retry'), '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
local n = 0
for _, jid in ipairs(due) do
  local jk = key('job', jid)
  local f = redis.call('HMGET', jk, 'status', 'user_key', 'priority')
  redis.call('ZREM', key('retry'), jid)
  if f[1] == 'retrying' then
    redis.call('HSET', jk, 'status', 'pending', 'next_retry_at', '', 'enqueued_at', now)
    add_pending(jid, f[2], f[3], now, false)
    n = n + 1
  end
end
wake(n)
return n
