-- Integrates positions: one batched query, one write per entity.
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
  for e, pos, vel in world:query("Position", "Velocity") do
    world:set(e, "Position", {
      x = wrap(pos.x + vel.x * dt, size.x),
      y = wrap(pos.y + vel.y * dt, size.y),
    })
  end
end
