local Vec = {}
Vec.__index = Vec
function Vec.new(x, y) return setmetatable({x = x, y = y}, Vec) end
Vec.__add = function(a, b) return Vec.new(a.x + b.x, a.y + b.y) end
Vec.__eq = function(a, b) return a.x == b.x and a.y == b.y end
Vec.__lt = function(a, b) return a:len2() < b:len2() end
Vec.__le = function(a, b) return a:len2() <= b:len2() end
Vec.__tostring = function(v) return "(" .. v.x .. ", " .. v.y .. ")" end
Vec.__len = function() return 2 end
Vec.__call = function(v, k) return v[k] end
Vec.__concat = function(a, b) return tostring(a) .. tostring(b) end
Vec.__unm = function(v) return Vec.new(-v.x, -v.y) end
function Vec:len2() return self.x * self.x + self.y * self.y end
local a, b = Vec.new(1, 2), Vec.new(3, 4)
print(tostring(a + b), a == Vec.new(1, 2), a < b, b <= a, #a, a("y"), a .. b, tostring(-a))
local log = {}
local proxy = setmetatable({}, {
  __index = function(_, k) log[#log + 1] = "get " .. k; return k .. "!" end,
  __newindex = function(t, k, v) log[#log + 1] = "set " .. k; rawset(t, k, v) end,
})
print(proxy.a, proxy.b); proxy.c = 1; print(proxy.c, table.concat(log, ","))
print(getmetatable(setmetatable({}, {__metatable = "locked"})))
print(pcall(setmetatable, setmetatable({}, {__metatable = "locked"}), {}))
local weak = setmetatable({}, {__mode = "k"})
weak[{}] = 1; collectgarbage(); local n = 0; for _ in pairs(weak) do n = n + 1 end
print("weak entries after collect:", n)
local closed = {}
do local x <close> = setmetatable({}, {__close = function() closed[#closed + 1] = "closed" end}) end
print(closed[1])
