-- Extend leases still held by their token; record the worker as alive.
-- ARGV: lease_ms, worker_id ('' for none), then job_id, token pairs.
-- Returns one new deadline per pair, 0 where the lease is lost.
local lease_ms = tonumber(ARGV[1])
local now = now_ms()
if ARGV[2] ~= '' then
  redis.call('ZADD', key('workers'), now, ARGV[2])
  redis.call('ZREMRANGEBYSCORE', key('workers'), '-inf', now - 86400000)
end
local out = {}
for i = 3, #ARGV, 2 do
  local jid, token = ARGV[i], ARGV[i + 1]
  local f = redis.call('HMGET', key('job', jid), 'status', 'lease_token')
  if f[1] == 'processing' and f[2] == token then
    redis.call('ZADD', key('processing'), 'XX', now + lease_ms, jid)
    out[#out + 1] = now + lease_ms
  else
    out[#out + 1] = 0
  end
end
return out
