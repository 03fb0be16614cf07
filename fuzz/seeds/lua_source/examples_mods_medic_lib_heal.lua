local heal = {}

-- Raises hp by `amount`, never above max. Returns whether anything changed.
function heal.apply(health, amount)
  if health.hp >= health.max then return false end
  health.hp = math.min(health.max, health.hp + amount)
  return true
end

return heal
