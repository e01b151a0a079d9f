-- Lease up to `count` jobs in one call.
-- ARGV: count, lease_ms, aging_ms, worker_id, token_base.
-- Tier choice: the highest effective priority P + floor(oldest_wait / aging) * (span + 1), where
-- span is the spread of the priorities in use; one aging period lifts a tier above any other
-- tier's fresh jobs, so a low tier is served at least once per aging period under any load. Ties
-- go to the higher P. Inside the tier the users take turns (ring) and each user's jobs stay FIFO.
-- Returns {now, {token, deadline_ms, hash}...}.
local count = tonumber(ARGV[1])
local lease_ms = tonumber(ARGV[2])
local aging = tonumber(ARGV[3])
local worker = ARGV[4]
local base = ARGV[5]
local now = now_ms()
redis.call('ZADD', key('workers'), now, worker)
local out = {now}
local tiers = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local leased = 0
local guard = 0
-- The oldest enqueue time per tier, false for an empty tier. `now` is fixed during the script,
-- so only the tier just served needs reading again.
local oldest = {}
local function read_oldest(member)
  local o = redis.call('ZRANGE', key('age', member), 0, 0, 'WITHSCORES')
  if #o == 0 then return false end
  return tonumber(o[2])
end
local span = 0
if #tiers > 0 then span = tonumber(tiers[#tiers]) - tonumber(tiers[2]) end
for i = 1, #tiers, 2 do
  oldest[tiers[i]] = read_oldest(tiers[i])
  if not oldest[tiers[i]] then redis.call('ZREM', KEYS[1], tiers[i]) end
end
while leased < count and guard < count + 64 do
  guard = guard + 1
  local best, best_eff, best_p = nil, nil, nil
  for i = 1, #tiers, 2 do
    local member, p = tiers[i], tonumber(tiers[i + 1])
    if oldest[member] then
      local eff = p + math.floor((now - oldest[member]) / aging) * (span + 1)
      if best == nil or eff > best_eff or (eff == best_eff and p > best_p) then
        best, best_eff, best_p = member, eff, p
      end
    end
  end
  if best == nil then break end
  local ring = key('ring', best)
  local uk = redis.call('LPOP', ring)
  if not uk then
    return redis.error_reply('ERR photobot ring ' .. ring .. ' is empty while its tier has jobs')
  end
  local uq = key('uq', best, uk)
  local jid = redis.call('LPOP', uq)
  if redis.call('LLEN', uq) > 0 then redis.call('RPUSH', ring, uk) end
  if jid then
    redis.call('ZREM', key('age', best), jid)
    redis.call('ZREM', key('pending'), jid)
    oldest[best] = read_oldest(best)
    if not oldest[best] then redis.call('ZREM', KEYS[1], best) end
    local jk = key('job', jid)
    leased = leased + 1
    local token = base .. '.' .. leased
    local deadline = now + lease_ms
    redis.call('HINCRBY', jk, 'attempts', 1)
    redis.call('HSET', jk, 'status', 'processing', 'started_at', now, 'leased_at', now,
               'lease_token', token, 'lease_worker', worker)
    redis.call('ZADD', key('processing'), deadline, jid)
    out[#out + 1] = {token, deadline, redis.call('HGETALL', jk)}
  end
end
return out
