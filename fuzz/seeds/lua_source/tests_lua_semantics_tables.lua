local t = {}
for i = 1, 10 do table.insert(t, i * 3 % 7) end
table.insert(t, 1, 100)
print(table.concat(t, ","), #t, table.remove(t), table.remove(t, 1), #t)
table.sort(t)
print(table.concat(t, ","))
table.sort(t, function(a, b) return a > b end)
print(table.concat(t, ","))
local names = {"pear", "Apple", "fig", "banana"}
table.sort(names, function(a, b) return a:lower() < b:lower() end)
print(table.concat(names, " "))
print(table.unpack({1, 2, 3}, 2), select("#", table.unpack({}, 1, 3)))
local moved = table.move({1, 2, 3}, 1, 3, 2, {9})
print(table.concat(moved, ","))
local packed = table.pack(1, nil, 3)
print(packed.n, packed[3])
local keys = {}
for k in pairs({a = 1, b = 2, c = 3}) do keys[#keys + 1] = k end
table.sort(keys)
print(table.concat(keys), next({}), rawlen({1, 2}), rawequal(t, t), rawget({5}, 1))
local seq = {}
for i, v in ipairs({"a", "b", nil, "d"}) do seq[#seq + 1] = i .. v end
print(table.concat(seq, " "))
local mixed = {1, 2, 3, x = 1, [10] = 10}
print(#"abc", select("#", 1, 2), mixed.x, mixed[10])
