-- A page of jobs. ARGV: mode, then
--   'user', user_key, status ('' for any), offset, limit: the user's jobs, newest first;
--   'index', set name, 'asc'|'desc', offset, limit: the jobs of one status set, or 'all'.
-- Returns {total, hash, hash, ...}. Ids whose hash has expired are skipped. No call walks a
-- user's whole history: a status filter reads the user's index of finished jobs of that status,
-- or the (small) set of their unfinished jobs.
local ACTIVE_SCAN = 1000
local mode = ARGV[1]
local offset, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local out = {0}
-- The page of a sorted index, newest first, after its size.
local function newest_first(index)
  out[1] = redis.call('ZCARD', index)
  for _, jid in ipairs(redis.call('ZREVRANGE', index, offset, offset + limit - 1)) do
    local h = redis.call('HGETALL', key('job', jid))
    if #h > 0 then out[#out + 1] = h end
  end
  return out
end
if mode == 'user' then
  local hist = key('user', ARGV[2], 'jobs')
  local status = ARGV[3]
  if status == '' then
    return newest_first(hist)
  end
  if status == 'completed' or status == 'failed' or status == 'cancelled' then
    -- Finished jobs are indexed per status: a page costs its own size, whatever the history's.
    local idx = user_done(ARGV[2], status)
    return newest_first(idx)
  end
  -- Unfinished jobs are the user's active set, which the pending cap keeps small; at most
  -- ACTIVE_SCAN of them are looked at, newest first.
  local matched = {}
  for _, jid in ipairs(redis.call('SRANDMEMBER', key('user', ARGV[2], 'active'), ACTIVE_SCAN)) do
    local f = redis.call('HMGET', key('job', jid), 'status', 'created_at')
    if f[1] == status then matched[#matched + 1] = {tonumber(f[2]) or 0, jid} end
  end
  table.sort(matched, function(a, b) if a[1] ~= b[1] then return a[1] > b[1] end return a[2] > b[2] end)
  out[1] = #matched
  for i = offset + 1, math.min(#matched, offset + limit) do
    out[#out + 1] = redis.call('HGETALL', key('job', matched[i][2]))
  end
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
