-- Calls of 'math.sqrt', 'math.abs', 'math.floor', 'type' and
-- 's:sub(i, j)'. The guest does them without a call when it can; what
-- they return, the values around them and the errors they raise must be
-- what native Lua gives.
-- (NaN prints as "nan" or "-nan" depending on the CPU, so NaNs are shown
-- as NaN.)
local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do
    local v = t[i]
    if v ~= v then
      t[i] = "NaN"
    else
      t[i] = math.type(v) and (math.type(v) .. ":" .. tostring(v)) or tostring(v)
    end
  end
  return t.n .. "[" .. table.concat(t, ",", 1, t.n) .. "]"
end

local values = {
  0, 1, -1, 7, -7, 2 ^ 53, math.maxinteger, math.mininteger, math.mininteger + 1,
  0.0, -0.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 1e15 + 0.5, -1e15 - 0.5, 2 ^ 62, 2 ^ 63,
  -2 ^ 63, -2 ^ 63 - 2048, 1e300, -1e300, 1 / 0, -1 / 0, 0 / 0, 1e-310, -1e-310,
  "16", "-3.5", " 4 ", "0x10", "x", "", true, false, {}, print, show, coroutine.create(print),
}
local functions = { sqrt = math.sqrt, abs = math.abs, floor = math.floor, type = type }
local names = { "sqrt", "abs", "floor", "type" }

-- one result, every value (nil too)
for _, name in ipairs(names) do
  local f = functions[name]
  local line = {}
  for i = 0, #values do
    local v = values[i]  -- values[0] is nil
    local ok, r = pcall(f, v)
    line[#line + 1] = ok and show(r) or ("error " .. r)
    local direct = ok and f(v)
    if ok and direct ~= r and r == r then line[#line + 1] = "differs" end
  end
  print(name, table.concat(line, " "))
end

-- errors raised from the call site, not through pcall's call
for _, name in ipairs(names) do
  local f = functions[name]
  print(name, pcall(function() return f() end))
  print(name, pcall(function() local x = f("nope") return x end))
  print(name, pcall(function() local x = f({}) return x end))
end

-- the number of results the caller wants
local a, b, c = math.sqrt(16)
print(show(a, b, c))
a, b, c = math.abs(-3), math.floor(2.5), type(nil)
print(show(a, b, c))
a, b, c = math.floor(-2.5)
print(show(a, b, c))
a, b, c = type(a)
print(show(a, b, c))
print(show(math.sqrt(2)), show(math.abs(-2.5)), show(math.floor(7)), show(type(print)))
print(show(table.unpack({ math.sqrt(9) })), #{ math.floor(1.5), math.abs(-1) }, #{ type(1), type(2) })
print(select("#", math.sqrt(1)), select("#", type(nil)), select("#", math.floor(3)))
local function ret(x) return math.floor(x) end
local function ret2(x) return type(x), math.abs(x) end
print(show(ret(3.7)), show(ret2(-4)), show(ret2(-4.25)))
math.sqrt(4) -- no result wanted
type({})
local t = { math.abs(-5), math.abs(-6), type(true) }
print(show(table.unpack(t)))

-- values in the slots around the call stay what they were
do
  local x, y, z = 1.5, "keep", { 1 }
  local r = math.floor(x)
  local s = y .. type(z) .. math.abs(-2)
  print(show(x, y, #z, r, s))
  local u, v, w = math.sqrt(x), x, y
  print(show(u, v, w))
end

-- more or fewer arguments, and arguments from a vararg
print(show(math.sqrt(16, 1)), show(math.abs(-3, "x")), show(type(1, 2)), show(math.floor(2.5, nil)))
local function va(...) return math.sqrt(...), type(...), math.floor(...) end
print(show(va(6.25)), show(pcall(va)), show(va(9, "extra")))

-- the functions as values, methods and upvalues; replaced functions
local sqrt, floor = math.sqrt, math.floor
local lib = { f = math.abs }
print(show(sqrt(25), floor(-0.5), lib.f(-9), lib["f"](9.5)))
do
  local saved = math.sqrt
  math.sqrt = function(x) return "replaced " .. tostring(x) end
  print(math.sqrt(4), sqrt(4))
  math.sqrt = saved
  local real_type = type
  type = function(v) return "mine:" .. real_type(v) end
  print(type(1), real_type(1))
  type = real_type
end

-- in loops, with tables and strings being made (collections run between)
local counts = { number = 0, string = 0, table = 0, boolean = 0, ["nil"] = 0, ["function"] = 0 }
local sum, floors = 0, 0
for i = 1, 20000 do
  local v = (i % 5 == 0) and { i } or (i % 5 == 1) and ("s" .. i) or (i % 5 == 2) and i * 0.5
    or (i % 5 == 3) and (i % 2 == 0) or nil
  local kind = type(v)
  counts[kind] = counts[kind] + 1
  sum = sum + math.sqrt(i) + math.abs(-i)
  floors = floors + math.floor(i / 7) + math.floor(-i)
end
print(counts.number, counts.string, counts.table, counts.boolean, counts["nil"], sum, floors)

-- called from C: by pcall, gsub, a coroutine's start and table.sort's loop
print(select("#", pcall(math.sqrt, 4)), show(pcall(type, nil)), show(pcall(math.floor, -3.5)))
print(("a1 b2"):gsub("%w", type), ("4 9 16"):gsub("%d+", function(d) return math.sqrt(d) end))
print(show(coroutine.wrap(math.floor)(7.5)), show(coroutine.resume(coroutine.create(math.abs), -8)))
print(show(xpcall(math.sqrt, print, 2)), show(xpcall(type, print)))

-- s:sub(i, j): every position, short, long and empty results, conversions
do
  local text = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ!"
  local cuts = { math.mininteger, -100, -65, -64, -63, -41, -40, -2, -1, 0, 1, 2, 23, 40,
    41, 42, 63, 64, 65, 100, math.maxinteger }
  local line = {}
  for _, i in ipairs(cuts) do
    for _, j in ipairs(cuts) do
      local r = text:sub(i, j)
      line[#line + 1] = #r .. ":" .. r:sub(1, 2) .. r:sub(-2, -1)
    end
    print(table.concat(line, " "))
    line = {}
  end
  print(("hello"):sub(2.0, 3), ("hello"):sub("2", "-2"), string.sub(12345, 2, 3), ("x"):sub(1, 1))
  print(pcall(string.sub, "hello", 1.5, 2), pcall(string.sub, "hello", 1, {}), pcall(string.sub, nil, 1, 2))
  print(pcall(function() return ("abc"):sub(1, "x") end))
  local words, k = {}, 0
  for w = 1, 3000 do
    local a, b = w % 70 - 5, w % 37 - 3
    local piece = (text .. w):sub(a, b)
    words[#words + 1] = piece
    k = k + #piece
  end
  print(k, table.concat(words, "", 1, 40), #table.concat(words))
  local a, b, c = text:sub(3, 5)
  print(show(a, b, c), select("#", text:sub(3, 5)), show(table.unpack({ text:sub(-3, -1) })))
end

-- coroutines: the calls inside a coroutine and across yields
local co = coroutine.wrap(function(x)
  for i = 1, 3 do x = coroutine.yield(show(type(x), math.floor(x), math.abs(-x), math.sqrt(x))) end
  return "done"
end)
print(co(2.25), co(9), co(-16), co(4))

-- generated: each function over generated values, in every call shape
local seed = 12345
local function rand(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n
end
local function value()
  local k = rand(9)
  if k == 0 then return rand(2001) - 1000 end
  if k == 1 then return (rand(200001) - 100000) / (rand(64) + 1) end
  if k == 2 then return (rand(2) == 0 and 1 or -1) * 2.0 ^ (rand(130) - 30) end
  if k == 3 then return math.mininteger + rand(3) end
  if k == 4 then return math.maxinteger - rand(3) end
  if k == 5 then return tostring(rand(100)) end
  if k == 6 then return rand(2) == 0 end
  if k == 7 then return nil end
  return (rand(1000) - 500) + 0.5
end
local digest = {}
for i = 1, 1500 do
  local name = names[rand(#names) + 1]
  local f = functions[name]
  local v = value()
  local shape = rand(4)
  local out
  if shape == 0 then
    local ok, r = pcall(f, v)
    out = ok and show(r) or "error"
  elseif shape == 1 then
    local ok, r1, r2 = pcall(function() local p, q = f(v) return p, q end)
    out = ok and show(r1, r2) or "error"
  elseif shape == 2 then
    local ok, r = pcall(function() return { f(v), f(v) } end)
    out = ok and show(table.unpack(r, 1, 2)) or "error"
  else
    local ok, n = pcall(function() return select("#", f(v)) end)
    out = ok and tostring(n) or "error"
  end
  digest[#digest + 1] = name .. "(" .. show(v) .. ")=" .. out
  if #digest == 50 then
    print(table.concat(digest, " "))
    digest = {}
  end
end
print(table.concat(digest, " "))
