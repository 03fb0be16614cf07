-- A hostile mod, bundled to show what happens to one. It was granted read
-- access to Position only. At tick 3 it tries to teleport everything to the
-- origin, hiding the attempt in pcall. The write is denied before it runs;
-- the host ends the call (pcall cannot catch that), rolls it back and
-- disables the mod. Every other mod keeps running.

function on_tick(dt)
  if world:tick() < 3 then return end
  for e, pos in world:query("Position") do
    pcall(world.set, world, e, "Position", { x = 0, y = 0 })
  end
end
