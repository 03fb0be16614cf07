-- Generic 'for' over 'pairs' and 'ipairs'. The guest steps these loops
-- without calling 'next' or the iterator of 'ipairs' when it can; what
-- the loops see and the errors they raise must be what native Lua gives.
-- (The order of 'pairs' over hashed keys depends on the string hash seed,
-- so those lines are sorted.)
local function show(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  return table.concat(t, ",", 1, t.n)
end
local function sorted(list)
  table.sort(list)
  return table.concat(list, " ")
end

local mixed = { 10, 20, nil, 40, x = "a", y = "b", [2.5] = "f", [true] = "t" }
local seen = {}
for k, v in pairs(mixed) do seen[#seen + 1] = show(k, v) end
print(#seen, sorted(seen))
seen = {}
for k in pairs(mixed) do seen[#seen + 1] = show(k) end
print(sorted(seen))
seen = {}
for a, b, c, d, e in pairs({ 1, 2, z = 3 }) do seen[#seen + 1] = show(a, b, c, d, e) end
print(sorted(seen))
seen = {}
for a, b, c, d, e in ipairs({ 1, 2, nil, 4 }) do seen[#seen + 1] = show(a, b, c, d, e) end
print(table.concat(seen, " "))
seen = {}
for i in ipairs({ "a", "b", false, "d" }) do seen[#seen + 1] = i end
print(table.concat(seen, " "))
for _, v in ipairs({}) do print("never", v) end
for _, v in pairs({}) do print("never", v) end

-- changing values and removing keys while traversing is allowed
local t = {}
for i = 1, 20 do t["k" .. i] = i; t[i] = -i end
local sum = 0
for k, v in pairs(t) do
  sum = sum + v
  t[k] = nil
end
print(sum, next(t))
local arr = { 1, 2, 3, 4, 5 }
for i, v in ipairs(arr) do
  if i < 5 then arr[i + 1] = v * 10 end
end
print(table.concat(arr, " "))

-- metatables: '__pairs', '__index' on the table of 'ipairs', proxies
local proxy = setmetatable({}, { __index = function(_, i) if i <= 3 then return i * i end end })
seen = {}
for i, v in ipairs(proxy) do seen[#seen + 1] = show(i, v) end
print(table.concat(seen, " "))
local custom = setmetatable({}, { __pairs = function(s) return function(_, k) if not k then return 1, "one" end end, s, nil end })
for k, v in pairs(custom) do print("custom", k, v) end
seen = {}
for k, v in pairs(setmetatable({ a = 1, c = 3 }, { __index = { b = 2 } })) do seen[#seen + 1] = show(k, v) end
print(sorted(seen))

-- 'next' and the 'ipairs' iterator called by hand, and bad states
local iter = ipairs({})
seen = {}
for i, v in iter, { "x", "y" }, 0.0 do seen[#seen + 1] = show(math.type(i), v) end
print(table.concat(seen, " "))
print(pcall(function() for _ in iter, { 1 }, "0" do end end))
print(pcall(function() for _ in iter, "abc", 0 do end end))
print(pcall(function() for _ in next, { a = 1 }, "missing" do end end))
print(pcall(function() for _ in next, 5 do end end))
print(pcall(function() for _ in next, { 1, 2 }, 7 do end end))
seen = {}
for k, v in next, { 5, 6, 7 }, 1 do seen[#seen + 1] = show(k, v) end
print(table.concat(seen, " "))
-- a loop inside a coroutine, yielding between steps
local co = coroutine.wrap(function()
  for k, v in pairs({ 1, 2, 3 }) do coroutine.yield(k + v) end
  for i, v in ipairs({ 4, 5 }) do coroutine.yield(i * v) end
  return "done"
end)
print(co(), co(), co(), co(), co(), co())
