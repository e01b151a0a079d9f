-- Give leases back without counting an attempt (a worker stopping gracefully): the job returns to
-- the front of its user's queue with its original enqueue time, so it keeps its place.
-- ARGV: job_id, token pairs. Returns 1 per job given back, 0 where the lease was already lost.
local now = now_ms()
local out = {}
local n = 0
for i = 1, #ARGV, 2 do
  local jid, token = ARGV[i], ARGV[i + 1]
  local jk = key('job', jid)
  local f = redis.call('HMGET', jk, 'status', 'lease_token', 'user_key', 'priority', 'enqueued_at')
  if f[1] == 'processing' and f[2] == token then
    redis.call('ZREM', key('processing'), jid)
    redis.call('HINCRBY', jk, 'attempts', -1)
    redis.call('HSET', jk, 'status', 'pending')
    redis.call('HDEL', jk, 'lease_token', 'lease_worker')
    add_pending(jid, f[3], f[4], tonumber(f[5]) or now, true)
    n = n + 1
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
wake(n)
return out
