-- A page of jobs. ARGV: mode, then
--   'user', user_key, status ('' for any), offset, limit: the user's jobs, newest first;
--   'index', set name, 'asc'|'desc', offset, limit: the jobs of one status set, or 'all'.
-- Returns {total, hash, hash, ...}. Ids whose hash has expired are skipped.
local mode = ARGV[1]
local offset, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {0}
if mode == 'user' then
  local hist = key('user', ARGV[2], 'jobs')
  local status = ARGV[3]
  if status == '' then
    out[1] = redis.call('ZCARD', hist)
    for _, jid in ipairs(redis.call('ZREVRANGE', hist, offset, offset + limit - 1)) do
      local h = redis.call('HGETALL', key('job', jid))
      if #h > 0 then out[#out + 1] = h end
    end
    return out
  end
  local total = 0
  for _, jid in ipairs(redis.call('ZREVRANGE', hist, 0, -1)) do
    if redis.call('HGET', key('job', jid), 'status') == status then
      if total >= offset and total < offset + limit then
        out[#out + 1] = redis.call('HGETALL', key('job', jid))
      end
      total = total + 1
    end
  end
  out[1] = total
  return out
end
local set = key(ARGV[2])
out[1] = redis.call('ZCARD', set)
local ids
if ARGV[3] == 'desc' then ids = redis.call('ZREVRANGE', set, offset, offset + limit - 1)
else ids = redis.call('ZRANGE', set, offset, offset + limit - 1) end
for _, jid in ipairs(ids) do
  local h = redis.call('HGETALL', key('job', jid))
  if #h > 0 then out[#out + 1] = h end
end
return out
