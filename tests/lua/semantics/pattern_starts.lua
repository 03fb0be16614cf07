-- Where a pattern match can start. The guest's string library skips the
-- positions whose character cannot begin a match (when the first item is
-- a single-character class that must match once); find, match, gmatch and
-- gsub must give what native Lua gives, errors included.
local function all(ok, ...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  return tostring(ok) .. ":" .. table.concat(t, ",", 1, t.n)
end

local function gmatched(s, p, init)
  local ok, iter = pcall(string.gmatch, s, p, init)
  if not ok then return "false:" .. iter end
  local found = {}
  while true do
    local t = table.pack(pcall(iter))
    if not t[1] then return "false:" .. tostring(t[2]) .. "|" .. table.concat(found, "|") end
    if t[2] == nil then return "true:" .. table.concat(found, "|") end
    for i = 2, t.n do found[#found + 1] = tostring(t[i]) end
  end
end

local function cases(s, p, init, limit)
  local calls = 0
  return all(pcall(string.find, s, p, init)),
    all(pcall(string.match, s, p, init)),
    gmatched(s, p, init),
    all(pcall(string.gsub, s, p, "<%0>", limit)),
    all(pcall(string.gsub, s, p, function(...)
      calls = calls + 1
      return calls % 2 == 0 and "F" .. select("#", ...) or nil
    end)) .. "#" .. calls,
    all(pcall(string.gsub, s, p, { a = "T", x = false, ["1"] = 7 }))
end

-- First items of every kind, with and without suffixes and captures.
local subject = "  ab(c)d \t x=1;y=22;\0z%$ ]a"
for _, p in ipairs({
  "[^ \t]", "[%a_]+", "%d+", "x", "=(%d+)", "((%a))", "()a", "(()%d)", "((((%a))))",
  "(((((%a)))))", "$", "%$", "$x", "a$", "%b()", "%f[%a]%a", "%]", "]", "\0", "[\0]",
  "[ab]*", "a?b", "%s-x", ".", "%z", "[]]", "[^%s%d]+", "(a)%1", ")", "(", "%", "[a",
  "(%a+)=(%d+)", "a-c",
}) do
  print(p, cases(subject, p))
  print(p, cases(subject, p, 5, 2))
  print(p, cases("", p))
end
print(all(pcall(string.find, "bbbb", string.rep("(", 33) .. "a")))
print(all(pcall(string.gsub, "bbbb", string.rep("(", 33) .. "a", "")))
print(all(string.gsub(string.rep("abc ", 50), "c", "C", 7)))
print(all(string.find("abc", "[c]", 10)), gmatched("abc", "[b]", 10))

-- Generated patterns and subjects, with a fixed generator so that both
-- sides see the same cases; a digest per hundred cases.
local state = 12345
local function rand(n)
  state = (state * 1103515245 + 12345) % 2147483648
  return state % n + 1
end
local items = { "a", "b", ".", "%a", "%d", "%s", "%w", "%A", "[ab]", "[^a]", "[%a_]", "[a-c]",
  "[^ \t]", "%%", "$", "^", "(", ")", "()", "%b()", "%f[%a]", "%1", "[", "%", "-", "x", "\0",
  "[%]]", "%z", "%p", "=" }
local suffixes = { "", "", "", "*", "+", "-", "?" }
local chars = { "a", "b", "c", "x", " ", "\t", "(", ")", "1", "2", "_", "=", "%", "$", "\0", "]", "A" }
local function digest(s)
  local h = 0
  for i = 1, #s do h = (h * 31 + s:byte(i)) % 4294967296 end
  return h
end
for block = 1, 12 do
  local parts = {}
  for _ = 1, 100 do
    local p, s = {}, {}
    for i = 1, rand(6) - 1 do p[i] = items[rand(#items)] .. suffixes[rand(#suffixes)] end
    for i = 1, rand(15) - 1 do s[i] = chars[rand(#chars)] end
    p, s = table.concat(p), table.concat(s)
    if rand(4) == 1 then p = "^" .. p end
    parts[#parts + 1] = table.concat({ cases(s, p, rand(#s + 7) - 4, rand(8) - 2) }, "\n")
  end
  local text = table.concat(parts, "\n")
  print(block, #text, digest(text))
end
