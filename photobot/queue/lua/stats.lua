-- One consistent snapshot for stats. ARGV: retention_ms, alive_ms.
-- Returns {now, counts..., tier depths {prio, depth, oldest_ms}..., windows..., durations, alive}.
local retention = tonumber(ARGV[1])
local now = now_ms()
for _, name in ipairs({'completed', 'failed', 'cancelled'}) do
  redis.call('ZREMRANGEBYSCORE', key(name), '-inf', now - retention)
end
local counts = {
  redis.call('ZCARD', key('pending')), redis.call('ZCARD', key('processing')),
  redis.call('ZCARD', key('retry')), redis.call('ZCARD', key('completed')),
  redis.call('ZCARD', key('failed')), redis.call('ZCARD', key('cancelled')),
}
local tiers = {}
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, p in ipairs(members) do
  local depth = redis.call('ZCARD', key('age', p))
  local oldest = redis.call('ZRANGE', key('age', p), 0, 0, 'WITHSCORES')
  local since = -1
  if #oldest > 0 then since = tonumber(oldest[2]) end
  tiers[#tiers + 1] = {p, depth, since}
end
local windows = {
  redis.call('ZCOUNT', key('completed'), now - 60000, '+inf'),
  redis.call('ZCOUNT', key('completed'), now - 3600000, '+inf'),
  redis.call('ZCOUNT', key('failed'), now - 60000, '+inf'),
  redis.call('ZCOUNT', key('failed'), now - 3600000, '+inf'),
}
local durations = redis.call('LRANGE', key('durations'), 0, -1)
local alive = redis.call('ZCOUNT', key('workers'), now - tonumber(ARGV[2]), '+inf')
return {now, counts, tiers, windows, durations, alive}
