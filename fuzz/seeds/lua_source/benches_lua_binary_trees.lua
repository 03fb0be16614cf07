-- Allocation and GC: the Benchmarks Game binary-trees.
local function bottom_up(depth)
  if depth == 0 then return {} end
  depth = depth - 1
  return { bottom_up(depth), bottom_up(depth) }
end

local function check(tree)
  if tree[1] then return 1 + check(tree[1]) + check(tree[2]) end
  return 1
end

local max_depth = SMALL and 6 or 12
local min_depth = 4
local out = {}
local stretch = max_depth + 1
out[#out + 1] = "stretch " .. check(bottom_up(stretch))
local long_lived = bottom_up(max_depth)
for depth = min_depth, max_depth, 2 do
  local iterations = 1 << (max_depth - depth + min_depth)
  local sum = 0
  for _ = 1, iterations do
    sum = sum + check(bottom_up(depth))
  end
  out[#out + 1] = iterations .. " trees of depth " .. depth .. " check " .. sum
end
out[#out + 1] = "long lived " .. check(long_lived)
print(table.concat(out, "\n"))
