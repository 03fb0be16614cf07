-- Integrates positions: one query whose loop writes Position back, a page
-- of entities per host call, with no table made per entity.
local size

function on_load()
  local config = world:config()
  size = { x = config.width, y = config.height }
  print(("arena %gx%g"):format(size.x, size.y))
end

local function wrap(value, limit)
  if value < 0 then return value + limit end
  if value >= limit then return value - limit end
  return value
end

function on_tick(dt)
  for _, pos, vel in world:query{ "Position", "Velocity", write = { "Position" } } do
    pos.x = wrap(pos.x + vel.x * dt, size.x)
    pos.y = wrap(pos.y + vel.y * dt, size.y)
  end
end
