-- Split over two files: lib/heal.lua is loaded with require.
local heal = require("lib.heal")
local config

function on_load()
  config = world:config()
end

function on_tick(dt)
  if world:tick() % config.every ~= 0 then return end
  local healed = 0
  for e, health in world:query("Health") do
    if heal.apply(health, config.amount) then
      world:set(e, "Health", health)
      healed = healed + 1
    end
  end
  if healed > 0 then print(("tick %d: healed %d"):format(world:tick(), healed)) end
end
