local s = "héllo wörld ✓"
print(#s, utf8.len(s), utf8.char(72, 233, 10003), utf8.codepoint(s, 1, 3))
local cps = {}
for _, c in utf8.codes("añ✓") do cps[#cps + 1] = c end
print(table.concat(cps, ","), utf8.offset(s, 3), utf8.charpattern)
print(utf8.len("\xff"), utf8.len(s, 3))
for p, c in utf8.codes("ab") do io_free = (io_free or "") .. p .. ":" .. c .. ";" end
print(io_free)
