-- Closures and coroutines: generators, upvalues, higher-order functions.
local n = SMALL and 500 or 150000

local function counter()
  local count = 0
  return function(step) count = count + step; return count end
end

local function map(f, t)
  local out = {}
  for i = 1, #t do out[i] = f(t[i]) end
  return out
end

local function generator(limit)
  return coroutine.wrap(function()
    for i = 1, limit do coroutine.yield(i) end
  end)
end

local function filter_gen(pred, gen)
  return coroutine.wrap(function()
    for v in gen do if pred(v) then coroutine.yield(v) end end
  end)
end

local total = 0
for v in filter_gen(function(x) return x % 3 ~= 0 end, generator(n)) do
  total = total + v
end

local c = counter()
local small = {}
for i = 1, 64 do small[i] = i end
for i = 1, n // 20 do
  local scaled = map(function(x) return x * i end, small)
  total = total + c(scaled[#scaled] % 7)
end

local producer = coroutine.create(function(a)
  while true do a = coroutine.yield(a * 2 + 1) end
end)
local acc = 0
for i = 1, n do
  local _, v = coroutine.resume(producer, i)
  acc = (acc + v) % 1000000007
end
print(total, acc)
