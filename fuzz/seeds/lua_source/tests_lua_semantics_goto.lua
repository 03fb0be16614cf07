local out = {}
for i = 1, 10 do
  if i % 2 == 0 then goto continue end
  out[#out + 1] = i
  ::continue::
end
print(table.concat(out, " "))
local n = 0
::top::
n = n + 1
if n < 5 then goto top end
print(n)
do
  local i = 1
  ::loop::
  if i > 3 then goto done end
  i = i + 1
  goto loop
  ::done::
  print("i =", i)
end
