-- Expired leases: the holder is gone (crashed, killed, partitioned). Each counts as a transient
-- failure of its attempt. ARGV: limit, base_ms, max_ms, jitter_seed, retention_ms,
-- error JSON (a code the reader's side renders in its language). Returns {retrying, failed}.
local limit = tonumber(ARGV[1])
local seed = tonumber(ARGV[4])
local now = now_ms()
local expired = redis.call('ZRANGEBYSCORE', key('processing'), '-inf', now, 'LIMIT', 0, limit)
local retrying, failed = 0, 0
for i, jid in ipairs(expired) do
  local jk = key('job', jid)
  if redis.call('HGET', jk, 'status') ~= 'processing' then
    redis.call('ZREM', key('processing'), jid)
  else
    local jitter = 0.5 + 0.5 * ((seed + i * 0.6180339887) % 1)
    local status = retry_or_fail(jid, jk, now, true, ARGV[6], tonumber(ARGV[2]), tonumber(ARGV[3]),
                                 jitter, tonumber(ARGV[5]))
    if status == 'retrying' then
      retrying = retrying + 1
    else
      failed = failed + 1
      give_quota_back(jid, redis.call('HGET', jk, 'user_key'))  -- its worker died: not the file's fault
    end
  end
end
return {retrying, failed}
