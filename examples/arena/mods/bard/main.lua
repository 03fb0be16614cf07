local mourned = {}

function on_tick()
  for e, hp in world:query("Hp") do
    if hp <= 0 and not mourned[e] then
      mourned[e] = true
      engine.emit("play_sound", { name = "lament" })
    end
  end
end
