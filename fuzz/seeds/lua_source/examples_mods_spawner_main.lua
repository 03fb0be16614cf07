-- Spawns critters and despawns its oldest ones: it may only touch its own.
local config
local mine = {}

function on_load()
  config = world:config()
end

function on_tick(dt)
  if world:tick() % config.every ~= 0 then return end
  local e = world:spawn{
    Position = { x = math.random() * 1000, y = math.random() * 1000 },
    Velocity = { x = math.random(-20, 20) * 1.0, y = math.random(-20, 20) * 1.0 },
    Health = { hp = 10, max = 10 },
    Critter = { kind = "moth" },
  }
  mine[#mine + 1] = e
  if #mine > config.keep then
    world:despawn(table.remove(mine, 1))
  end
end
