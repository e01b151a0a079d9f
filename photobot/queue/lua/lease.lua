-- Lease up to `count` jobs in one call.
-- ARGV: count, lease_ms, aging_ms, worker_id, token_base.
-- Tier choice: the highest effective priority P + floor(oldest_wait / aging) * (span + 1), where
-- span is the spread of the priorities in use; one aging period lifts a tier above any other
-- tier's fresh jobs, so a low tier is served at least once per aging period under any load. Ties
-- go to the higher P. Inside the tier the users take turns (ring) and each user's jobs stay FIFO.
--
-- Per job the script pops the job id from its user's FIFO and reads and writes its hash; the
-- rest is per batch. The ring's turns are played out in Lua on the front of the ring (read once)
-- and written back once; the age, pending and processing sets change by one variadic command each.
-- The oldest job of a tier is tracked on its count + 1 oldest entries, read once: with at most
-- `count` jobs removed, the oldest that remains is always among them.
-- Returns {now, {token, deadline_ms, hash, job_id}...}.
local count = tonumber(ARGV[1])
local lease_ms = tonumber(ARGV[2])
local aging = tonumber(ARGV[3])
local worker = ARGV[4]
local base = ARGV[5]
local now = now_ms()
local deadline = now + lease_ms
redis.call('ZADD', key('workers'), now, worker)
local out = {now}
local tier_list = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local span = 0
if #tier_list > 0 then span = tonumber(tier_list[#tier_list]) - tonumber(tier_list[2]) end
local tiers = {}
for i = 1, #tier_list, 2 do
  local member = tier_list[i]
  local depth = redis.call('ZCARD', key('age', member))
  if depth == 0 then
    redis.call('ZREM', KEYS[1], member)
  else
    tiers[#tiers + 1] = {member = member, p = tonumber(tier_list[i + 1]), depth = depth,
                         taken = {}, gone = {}}
  end
end
local multi = #tiers > 1

-- The oldest enqueue time among the tier's remaining jobs (only needed to compare tiers).
local function oldest(t)
  if not t.ages then
    t.ages = redis.call('ZRANGE', key('age', t.member), 0, count, 'WITHSCORES')
    t.at = 1
  end
  while t.ages[t.at] and t.gone[t.ages[t.at]] do t.at = t.at + 2 end
  return tonumber(t.ages[t.at + 1])
end

-- The ring: q holds its front (all of it when it is shorter than count); a user served with jobs
-- left goes to the back, which is q itself when q is the whole ring, else `back` (after the rest).
local function next_user(t)
  if not t.q then
    t.ring = key('ring', t.member)
    t.q = redis.call('LRANGE', t.ring, 0, count - 1)
    t.whole = #t.q < count
    t.head = 1
    t.back = {}
    t.left = {}
  end
  local uk = t.q[t.head]
  if uk == nil then return nil end
  t.head = t.head + 1
  return uk
end

local leased = 0
local processing = {}
local pending = {}
while leased < count do
  local best = nil
  if multi then
    local best_eff = nil
    for _, t in ipairs(tiers) do
      if t.depth > 0 then
        local eff = t.p + math.floor((now - oldest(t)) / aging) * (span + 1)
        if best == nil or eff > best_eff or (eff == best_eff and t.p > best.p) then
          best, best_eff = t, eff
        end
      end
    end
  elseif tiers[1] and tiers[1].depth > 0 then
    best = tiers[1]
  end
  if best == nil then break end
  local uk = next_user(best)
  if not uk then
    return redis.error_reply('ERR photobot ring ' .. best.ring .. ' is empty while its tier has jobs')
  end
  local uq = key('uq', best.member, uk)
  local left = best.left[uk]
  if left == nil then left = redis.call('LLEN', uq) end
  local jid = redis.call('LPOP', uq)
  if not jid then
    return redis.error_reply('ERR photobot ' .. uq .. ' is empty while in its ring')
  end
  left = left - 1
  best.left[uk] = left
  if left > 0 then
    if best.whole then best.q[#best.q + 1] = uk else best.back[#best.back + 1] = uk end
  end
  best.depth = best.depth - 1
  best.gone[jid] = true
  best.taken[#best.taken + 1] = jid
  pending[#pending + 1] = jid
  leased = leased + 1
  local jk = key('job', jid)
  local h = redis.call('HGETALL', jk)
  local token = base .. '.' .. leased
  local set = {status = 'processing', started_at = now, leased_at = now, lease_token = token,
               lease_worker = worker, attempts = 1}
  for i = 1, #h, 2 do
    if h[i] == 'attempts' then set.attempts = (tonumber(h[i + 1]) or 0) + 1 end
  end
  local fields = {}
  for name, value in pairs(set) do
    fields[#fields + 1] = name
    fields[#fields + 1] = value
  end
  redis.call('HSET', jk, unpack(fields))
  for i = 1, #h, 2 do
    local v = set[h[i]]
    if v ~= nil then
      h[i + 1] = tostring(v)
      set[h[i]] = nil
    end
  end
  for name, value in pairs(set) do
    h[#h + 1] = name
    h[#h + 1] = tostring(value)
  end
  processing[#processing + 1] = deadline
  processing[#processing + 1] = jid
  out[#out + 1] = {token, deadline, h, jid}
end

for _, t in ipairs(tiers) do
  if #t.taken > 0 then
    call_many('ZREM', key('age', t.member), t.taken)
    if t.whole then
      redis.call('DEL', t.ring)
      if t.head <= #t.q then
        local rest = {}
        for i = t.head, #t.q do rest[#rest + 1] = t.q[i] end
        call_many('RPUSH', t.ring, rest)
      end
    else
      redis.call('LTRIM', t.ring, t.head - 1, -1)
      if #t.back > 0 then call_many('RPUSH', t.ring, t.back) end
    end
  end
  if t.depth == 0 then redis.call('ZREM', KEYS[1], t.member) end
end
if leased > 0 then
  call_many('ZREM', key('pending'), pending)
  call_many('ZADD', key('processing'), processing, 2)
end
return out
