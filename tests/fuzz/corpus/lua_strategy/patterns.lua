function detect_opportunity(market, ctx, ind) return nil end
function filter_commitment(market, ctx, ind) return nil end
function manage_position(market, ctx, ind, position) return nil end

function detect_opportunity(market, ctx, ind)
  local s = string.rep("a", 50000)
  return { n = select("#", string.find(s, string.rep("a?", 5000) .. string.rep("a", 5000))) }
end
function filter_commitment(market, ctx, ind)
  return { action = "cancel_analysis", reason = string.gsub(string.rep("x", 60000), "x", "%0%0") }
end
function manage_position(market, ctx, ind, position)
  return { action = "exit", reason = string.format("%099d %s", 7, string.rep("z", 100)) }
end
