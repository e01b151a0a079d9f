-- Complete leased jobs whose token still holds.
-- ARGV: retention_ms, durations_cap, then job_id, token, result_ids JSON ('' to keep) triples.
-- Returns 1 per completed job, 0 where the lease was lost.
local retention = tonumber(ARGV[1])
local cap = tonumber(ARGV[2])
local now = now_ms()
local out = {}
local durations = {}
for i = 3, #ARGV, 3 do
  local jid, token, results = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local jk = key('job', jid)
  local f = redis.call('HMGET', jk, 'status', 'lease_token', 'user_key', 'leased_at')
  if f[1] == 'processing' and f[2] == token then
    if results ~= '' then redis.call('HSET', jk, 'result_ids', results) end
    redis.call('HSET', jk, 'error', '', 'next_retry_at', '')
    redis.call('ZREM', key('processing'), jid)
    finish(jid, jk, f[3], 'completed', now, retention)
    if f[4] then durations[#durations + 1] = now - tonumber(f[4]) end
    out[#out + 1] = 1
  else
    out[#out + 1] = 0
  end
end
if #durations > 0 then
  redis.call('LPUSH', key('durations'), unpack(durations))
  redis.call('LTRIM', key('durations'), 0, cap - 1)
end
return out
