-- Tables: array and hash parts, table.insert/remove, table.sort, pairs, ipairs.
local n = SMALL and 500 or 20000
local seed = 42
local function rand(m)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % m
end

local array = {}
for i = 1, n do table.insert(array, rand(1000000)) end
table.sort(array)
local sorted_ok = 1
for i = 2, #array do if array[i - 1] > array[i] then sorted_ok = 0 end end

local records = {}
for i = 1, n do
  records[i] = { id = i, name = "item" .. (i % 997), score = rand(10000) }
end
table.sort(records, function(a, b)
  if a.score ~= b.score then return a.score > b.score end
  return a.id < b.id
end)

local by_name = {}
for _, r in ipairs(records) do
  local bucket = by_name[r.name]
  if not bucket then bucket = {}; by_name[r.name] = bucket end
  bucket[#bucket + 1] = r.id
end
local buckets, biggest = 0, 0
for _, ids in pairs(by_name) do
  buckets = buckets + 1
  if #ids > biggest then biggest = #ids end
end

local queue = {}
for i = 1, n do
  table.insert(queue, i)
  if i % 3 == 0 then table.remove(queue, 1 + rand(#queue)) end
end
local qsum = 0
for _, v in ipairs(queue) do qsum = qsum + v end

local sparse, ssum = {}, 0
for i = 1, n do sparse[rand(n * 4)] = i end
for k, v in pairs(sparse) do ssum = (ssum + k * v) % 1000000007 end

print(sorted_ok, records[1].id, records[n].id, buckets, biggest, #queue, qsum, ssum)
