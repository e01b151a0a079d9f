-- Jobs ahead of a pending job if nothing new arrives: every job of a tier that is served first
-- now, its own user's earlier jobs, and the turns other users of its tier take before it
-- (k + 1 each for users ahead of it in the ring, k for those behind, where k is the number of
-- its user's jobs before it). ARGV: job_id, aging_ms. Returns -1 when the job is not pending.
-- With job_id '' and ARGV user_key, priority: the jobs ahead of a job of that user and priority
-- queued now, behind the user's waiting ones (the position a chat shows before the enqueue).
local jid = ARGV[1]
local aging = tonumber(ARGV[2])
local uk, prio
if jid ~= '' then
  local f = redis.call('HMGET', key('job', jid), 'status', 'user_key', 'priority')
  if f[1] ~= 'pending' then return -1 end
  uk, prio = f[2], f[3]
else
  uk, prio = ARGV[3], ARGV[4]
end
local now = now_ms()
local tiers = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local effs = {}
local span = 0
if #tiers > 0 then span = tonumber(tiers[#tiers]) - tonumber(tiers[2]) end
for i = 1, #tiers, 2 do
  local oldest = redis.call('ZRANGE', key('age', tiers[i]), 0, 0, 'WITHSCORES')
  if #oldest > 0 then
    local p = tonumber(tiers[i + 1])
    effs[#effs + 1] = {tiers[i], p, p + math.floor((now - tonumber(oldest[2])) / aging) * (span + 1)}
  end
end
local mine = nil
for _, t in ipairs(effs) do if t[1] == prio then mine = t end end
if mine == nil and jid == '' then mine = {prio, tonumber(prio), tonumber(prio)} end
local ahead = 0
if mine then
  for _, t in ipairs(effs) do
    if t[3] > mine[3] or (t[3] == mine[3] and t[2] > mine[2]) then
      ahead = ahead + redis.call('ZCARD', key('age', t[1]))
    end
  end
end
local k
if jid ~= '' then
  k = redis.call('LPOS', key('uq', prio, uk), jid) or 0
else
  k = redis.call('LLEN', key('uq', prio, uk))
end
ahead = ahead + k
local before = true
for _, other in ipairs(redis.call('LRANGE', key('ring', prio), 0, -1)) do
  if other == uk then
    before = false
  else
    local n = redis.call('LLEN', key('uq', prio, other))
    if before then ahead = ahead + math.min(n, k + 1) else ahead = ahead + math.min(n, k) end
  end
end
return ahead
