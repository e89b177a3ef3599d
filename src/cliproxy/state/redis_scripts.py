"""The Lua scripts of the Redis state backend (:mod:`cliproxy.state.redis`): each
operation that must read and write atomically on the server, in one round trip."""

from __future__ import annotations

__all__ = ["DELETE_BINDING", "GET_BINDING", "IN_FLIGHT", "RELEASE", "SET_BINDING", "WEIGHTED"]

WEIGHTED = """
if redis.call('HGET', KEYS[1], '\\0sig') ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], '\\0sig', ARGV[1])
end
local picked, best, total = false, 0, 0
for i = 3, #ARGV, 2 do
  local w = tonumber(ARGV[i + 1])
  if w > 0 then
    local v = redis.call('HINCRBY', KEYS[1], ARGV[i], w)
    total = total + w
    if not picked or v > best then picked = ARGV[i] best = v end
  end
end
if picked then redis.call('HINCRBY', KEYS[1], picked, -total) end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return picked
"""

# value: "<expiry>\0<credential>\0<key>\0<key>..."; ARGV: now, ttl seconds, refresh flag
GET_BINDING = """
local v = redis.call('GET', KEYS[1])
if not v then return false end
local parts = {}
for p in string.gmatch(v, '([^%z]+)') do parts[#parts + 1] = p end
local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
if tonumber(parts[1]) <= now then
  for i = 3, #parts do
    if redis.call('GET', ARGV[4] .. parts[i]) == v then redis.call('DEL', ARGV[4] .. parts[i]) end
  end
  return false
end
if ARGV[3] == '1' then
  local nv = tostring(now + ttl) .. '\\0' .. table.concat(parts, '\\0', 2)
  for i = 3, #parts do
    local k = ARGV[4] .. parts[i]
    if redis.call('GET', k) == v then redis.call('SET', k, nv, 'PX', math.ceil(ttl * 1000) + 60000) end
  end
end
return parts[2]
"""

# KEYS: binding keys; ARGV: now, expiry, credential, ttl ms, prefix, most stable aliases,
# then the binding keys unprefixed. The live groups of the keys join the new one, which
# keeps the first prompt-cache key and the newest stable ones (state.base.binding_group).
SET_BINDING = """
local now, prefix, most = tonumber(ARGV[1]), ARGV[5], tonumber(ARGV[6])
local merged, seen = {}, {}
local function add(k) if not seen[k] then seen[k] = true merged[#merged + 1] = k end end
for i = 7, #ARGV do add(ARGV[i]) end
for _, k in ipairs(KEYS) do
  local old = redis.call('GET', k)
  if old then
    local i, live = 0, false
    for p in string.gmatch(old, '([^%z]+)') do
      i = i + 1
      if i == 1 then live = tonumber(p) > now end
      if i > 2 then
        if redis.call('GET', prefix .. p) == old then redis.call('DEL', prefix .. p) end
        if live then add(p) end
      end
    end
  end
end
local group, prompt, stable = {}, false, 0
for _, k in ipairs(merged) do
  local at = string.find(k, '::', 1, true)
  local session = at and string.sub(k, at + 2) or k
  if string.sub(session, 1, 4) == 'pck:' then
    if not prompt then prompt = true group[#group + 1] = k end
  elseif stable < most then
    stable = stable + 1
    group[#group + 1] = k
  end
end
local value = ARGV[2] .. '\\0' .. ARGV[3] .. '\\0' .. table.concat(group, '\\0')
for _, k in ipairs(group) do redis.call('SET', prefix .. k, value, 'PX', ARGV[4]) end
return #group
"""

DELETE_BINDING = """
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local first = string.find(v, '\\0', 1, true)
local second = string.find(v, '\\0', first + 1, true) or (#v + 1)
if string.sub(v, first + 1, second - 1) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
return 1
"""

IN_FLIGHT = """
local v = redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2])
if v <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) return 0 end
return v
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
