-- Set non-state fields of a job: by a lease holder (token given) or by anyone (token '').
-- ARGV: job_id, token, field, value pairs. Returns the job hash, or {} when the job is missing
-- or the token does not hold its lease.
local jk = key('job', ARGV[1])
if redis.call('EXISTS', jk) == 0 then return {} end
if ARGV[2] ~= '' then
  local f = redis.call('HMGET', jk, 'status', 'lease_token')
  if f[1] ~= 'processing' or f[2] ~= ARGV[2] then return {} end
end
if #ARGV > 2 then redis.call('HSET', jk, unpack(ARGV, 3)) end
return redis.call('HGETALL', jk)
