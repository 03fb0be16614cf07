local SPEED, REACH = 2.0, 1.0

function on_tick(dt)
  for e, pos, team, hp in world:query{ "Pos", "Team", "Hp", write = { "Pos" } } do
    if team == "Red" and hp > 0 then
      local target = engine.nearest_enemy(e)
      if target then
        if target.distance <= REACH then
          local enemy_hp = world:get(target.entity, "Hp")
          world:set(target.entity, "Hp", enemy_hp - 1)
          engine.emit("play_sound", { name = "hit" })
        else
          local to = world:get(target.entity, "Pos")
          local step = math.min(SPEED * dt, target.distance - REACH) / target.distance
          pos.x = pos.x + (to.x - pos.x) * step
          pos.y = pos.y + (to.y - pos.y) * step
        end
      end
    end
  end
end
