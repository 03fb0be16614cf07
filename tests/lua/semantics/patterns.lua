print(string.find("hello world", "o w"), string.find("hello", "l+"))
print(string.match("key = value", "(%w+)%s*=%s*(%w+)"))
print(string.gsub("hello world", "o", "0"))
print(string.gsub("abc", "%w", "%0%0"))
print(string.gsub("$name is $age", "%$(%w+)", {name = "Ann", age = 7}))
print(string.gsub("a,b,,c", ",", ";", 2))
local words = {}
for w in string.gmatch("the quick brown fox", "%a+") do words[#words + 1] = w:upper() end
print(table.concat(words, "-"))
print(string.match("2024-01-15", "(%d+)-(%d+)-(%d+)"))
print(string.find("a.b", ".", 1, true), string.match("  trim  ", "^%s*(.-)%s*$") .. "|")
print(string.match("[[nested]]", "%[(%b[])%]"), string.match("f(a(b)c)", "%b()"))
print(string.gsub("THE (quick) fox", "%f[%a]%a+", function(w) return w:lower() end))
print(string.format("%5.2f|%-5d|%05d|%x|%X|%o|%e|%g|%q", 3.14159, 42, 42, 255, 255, 8, 12345.678, 0.1, "a\nb"))
print(string.format("%s %s %s", nil, true, 12), ("x"):rep(3, ","), ("abc"):reverse(), ("%d"):format(3))
print(("hello"):byte(1, -1))
print(string.char(72, 105), #"\0abc", ("a\0b"):len())
-- a pattern is searched plainly only if it has none of ^$*+?.([%- (each
-- one, alone and after plain text, and after an embedded zero)
local function all(...)
  local t = table.pack(...)
  for i = 1, t.n do t[i] = tostring(t[i]) end
  return table.concat(t, ",", 1, t.n)
end
for _, special in ipairs({ "^", "$", "*", "+", "?", ".", "(", "[", "%", "-" }) do
  local pattern = "b" .. special
  print(special, all(pcall(string.find, "ab^$*+?.([%-b", pattern)),
    all(pcall(string.find, "x\0b" .. special, "\0" .. pattern)))
end
print(all(string.find("a\0b.c", "b.c")), all(string.find("a\0b.c", "\0b", 1)),
  all(string.find("a+b", "a+b")), all(string.find("abc", "")))
