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

# KEYS: binding keys; ARGV: value, ttl ms, prefix
SET_BINDING = """
for _, k in ipairs(KEYS) do
  local old = redis.call('GET', k)
  if old then
    local i = 0
    for p in string.gmatch(old, '([^%z]+)') do
      i = i + 1
      if i > 2 and redis.call('GET', ARGV[3] .. p) == old then redis.call('DEL', ARGV[3] .. p) end
    end
  end
end
for _, k in ipairs(KEYS) do redis.call('SET', k, ARGV[1], 'PX', ARGV[2]) end
return #KEYS
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
