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
while leased < count and #tiers > 0 and guard < count + 64 do
  guard = guard + 1
  local span = tonumber(tiers[#tiers]) - tonumber(tiers[2])
  local best, best_eff, best_p = nil, nil, nil
  local i = 1
  while i <= #tiers do
    local member, p = tiers[i], tonumber(tiers[i + 1])
    local oldest = redis.call('ZRANGE', key('age', member), 0, 0, 'WITHSCORES')
    if #oldest == 0 then
      redis.call('ZREM', KEYS[1], member)
      table.remove(tiers, i)
      table.remove(tiers, i)
    else
      local eff = p + math.floor((now - tonumber(oldest[2])) / aging) * (span + 1)
      if best == nil or eff > best_eff or (eff == best_eff and p > best_p) then
        best, best_eff, best_p = member, eff, p
      end
      i = i + 2
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
