-- Strings: concatenation, string.format, patterns, gsub, rep, byte/char.
local rounds = SMALL and 200 or 20000
local words = { "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta" }
local total, checksum = 0, 0
for r = 1, rounds do
  local parts = {}
  for i = 1, #words do
    parts[i] = string.format("%s=%d:%.2f", words[i], r * i, r / i)
  end
  local line = table.concat(parts, ";")
  for key, num in line:gmatch("(%a+)=(%d+)") do
    total = total + #key + tonumber(num)
  end
  local upper, count = line:gsub("%a+", string.upper)
  checksum = (checksum + count + #upper) % 1000000007
  local s = ""
  for i = 1, 10 do s = s .. words[(r + i) % #words + 1]:sub(1, 3) end
  checksum = (checksum + s:byte(r % #s + 1) + #s:rep(3, ",")) % 1000000007
  if line:find("theta=" .. (r * 8), 1, true) then total = total + 1 end
  local reversed = s:reverse():gsub("(%w)(%w)", "%2%1")
  checksum = (checksum + reversed:len() + string.char(65 + r % 26):byte()) % 1000000007
end
print(total, checksum)
