-- A leased job raised: retrying or failed (see retry_or_fail).
-- ARGV: job_id, token, transient (0|1), error JSON, base_ms, max_ms, jitter, retention_ms,
-- give_back (1: a final failure returns the job's unit of quota, since the user's file did not cause it).
-- Returns the new status, or 'lost' when the token no longer holds the lease.
local jid, token = ARGV[1], ARGV[2]
local jk = key('job', jid)
local f = redis.call('HMGET', jk, 'status', 'lease_token')
if f[1] ~= 'processing' or f[2] ~= token then return 'lost' end
local status = retry_or_fail(jid, jk, now_ms(), ARGV[3] == '1', ARGV[4], tonumber(ARGV[5]),
                            tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]))
if status == 'failed' and ARGV[9] == '1' then
  give_quota_back(jid, redis.call('HGET', jk, 'user_key'))
end
return status
