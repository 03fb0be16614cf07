print(7 // 2, 7 % 3, -7 // 2, -7 % 3, 7 / 2, 2 ^ 10, 7.0 // 2)
print(math.type(1), math.type(1.0), math.type("1"), 1 == 1.0, math.tointeger(3.0), math.tointeger(3.5))
print(math.maxinteger + 1 == math.mininteger, math.maxinteger // -1, 1e308 * 10, -(0/0) ~= -(0/0))
print(3 & 5, 3 | 5, 3 ~ 5, ~0, 1 << 62, 256 >> 4, "10" + 5, "3" * "4", 10 .. 20)
print(tonumber("0x10"), tonumber("10", 2), tonumber("z", 36), tonumber("  12  "), tonumber("1e2"), tonumber("abc"))
print(math.floor(-3.5), math.ceil(-3.5), math.abs(-4), math.max(1, 9, 3), math.min(2, -1), math.fmod(7, 3))
print(math.huge, -math.huge, math.pi, math.sqrt(16), math.exp(0), math.log(8, 2), math.ult(1, -1))
print(string.format("%.14g", 0.1 + 0.2), 100000000000000, 2^53, 1e15, 123456789012)
print(pcall(function() return 1 // 0 end))
print(1 // 0.0, -1 // 0.0, 5 % math.huge, 3 | 0, pcall(function() return 1.5 | 0 end))
-- strings read as floats: the characters that choose hex, or refuse nan/inf
print(tonumber("1.5"), tonumber("-0.25"), tonumber("5."), tonumber(".5"), tonumber("0x.8"), tonumber("0X1P4"), tonumber("0x1p-1"))
print(tonumber("nan"), tonumber("NaN"), tonumber("inf"), tonumber("-Infinity"), tonumber("1e"), tonumber("1.5n"), tonumber(" 2.5 "))
-- decimal numerals read as floats, exactly: the guest reads the short ones
-- itself (one exact multiplication or division) and leaves the rest to
-- strtod; every bit must match. Generated numerals, a digest per block.
print(tonumber("9007199254740993"), tonumber("9007199254740993.0"), tonumber("1e22"), tonumber("1e23"),
  tonumber("-0.0"), tonumber("0.1e-22"), tonumber("123456789012345678e-5"), tonumber("1.7976931348623157e308"))
local state = 7
local function rand(n)
  state = (state * 1103515245 + 12345) % 2147483648
  return state % n + 1
end
for block = 1, 8 do
  local h, floats = 0, 0
  for _ = 1, 250 do
    local parts = { ({ "", "-", "+" })[rand(3)] }
    for _ = 1, rand(21) - 1 do parts[#parts + 1] = tostring(rand(10) - 1) end
    if rand(2) == 1 then
      parts[#parts + 1] = "."
      for _ = 1, rand(21) - 1 do parts[#parts + 1] = tostring(rand(10) - 1) end
    end
    if rand(2) == 1 then
      parts[#parts + 1] = ({ "e", "E", "e-", "e+" })[rand(4)] .. tostring(rand(40) - 1)
    end
    local text = table.concat(parts)
    local x, y = tonumber(text), load("return " .. text)
    y = y and select(2, pcall(y))
    local z = select(2, pcall(function() return text + 0 end))
    for _, v in ipairs({ x, y, z }) do
      local bytes = math.type(v) == "float" and string.pack("<d", v) or tostring(v)
      if math.type(v) == "float" then floats = floats + 1 end
      for i = 1, #bytes do h = (h * 31 + bytes:byte(i)) % 4294967296 end
    end
  end
  print(block, floats, h)
end
