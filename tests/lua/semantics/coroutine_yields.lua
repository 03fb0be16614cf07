-- Every way a coroutine can yield, because the sandbox's Lua takes a
-- shortcut (no long jump) for some of them: see vendor/lua-src/MOONBOX.md.
local yield = coroutine.yield

local function show(label, co, ...)
  print(label, coroutine.resume(co, ...))
  print(label, coroutine.status(co))
end

-- Direct call, with 0, 1 and many values, and values passed back in.
local direct = coroutine.create(function(...)
  local a = yield()
  local b, c = yield(a)
  local d = { yield(b, c, nil, "x") }
  return #d, d[1], d[3]
end)
show("direct", direct, "start")
show("direct", direct, 1)
show("direct", direct, 2, 3)
show("direct", direct, "p", "q", "r")
show("direct", direct)

-- Yield as a tail call, from a nested Lua call, through __call, inside a
-- generic for's iterator, across pcall and from a sort comparator.
local paths = coroutine.wrap(function()
  local function tail(v) return yield(v) end
  print("tail got", tail("tail"))
  local function tailv(...) return yield(...) end
  print("vararg tail got", tailv("v1", nil, "v3"))
  local function deep(n) if n == 0 then return yield("deep") end return deep(n - 1) end
  print("deep got", deep(10))
  local callable = setmetatable({}, { __call = function(_, v) return yield(v) end })
  print("call got", callable("meta"))
  local proxy = setmetatable({}, { __call = yield })
  print("__call=yield got", select("#", proxy("direct meta")))
  local steps = 0
  for v in function() steps = steps + 1 if steps <= 2 then return yield("iter " .. steps) end end do
    print("for body", v)
  end
  print("pcall", pcall(yield, "in pcall"))
  print("pcall fn", pcall(function() return yield("in pcall fn") end))
  local ok, err = pcall(table.sort, { 3, 1, 2 }, function(a, b) yield("sort") return a < b end)
  print("sort", ok, (tostring(err):gsub("^.-:%d+: ", "")))
  print("xpcall", xpcall(function() yield("in xpcall") error("boom", 0) end, function(m) return "handled " .. m end))
  return "end"
end)
for i = 1, 16 do
  local ok, a, b = pcall(paths, "r" .. i)
  print("resume", i, ok, type(a) == "table" and "a table" or a, b)
  if a == "end" or not ok then break end
end

-- Nested coroutines: an inner one yields to the outer, which yields on.
local outer = coroutine.wrap(function()
  local inner = coroutine.wrap(function() for i = 1, 3 do yield(i * 10) end return "inner done" end)
  for _ = 1, 4 do yield(inner()) end
  return "outer done"
end)
for _ = 1, 5 do print("nested", outer()) end

-- Errors: yield outside a coroutine, resuming dead and running coroutines,
-- an error after a yield, yield from a to-be-closed variable's __close.
print("main", pcall(yield, 1))
local dead = coroutine.create(function() yield() end)
coroutine.resume(dead); coroutine.resume(dead)
print("dead", coroutine.resume(dead))
local selfish
selfish = coroutine.create(function() return coroutine.resume(selfish) end)
print("self", coroutine.resume(selfish))
local failing = coroutine.create(function() yield("before") error({ code = 3 }) end)
print("failing", coroutine.resume(failing))
local ok, e = coroutine.resume(failing)
print("failing", ok, e.code, coroutine.status(failing))
local closer = coroutine.wrap(function()
  do
    local _ <close> = setmetatable({}, { __close = function() yield("closing") end })
    yield("open")
  end
  return "closed"
end)
print("close", closer(), closer(), closer())
local wrapped = coroutine.wrap(function() yield(coroutine.isyieldable(), coroutine.status(coroutine.running())) end)
print("status", wrapped())

-- Many yields keep the stack and call depth balanced.
local counter = coroutine.wrap(function() local n = 0 while true do n = n + 1 yield(n) end end)
local total = 0
for _ = 1, 10000 do total = total + counter() end
print("many", total, select("#", counter()))
