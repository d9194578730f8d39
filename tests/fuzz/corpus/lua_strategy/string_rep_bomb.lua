function detect_opportunity(market, ctx, ind) return nil end
function filter_commitment(market, ctx, ind) return nil end
function manage_position(market, ctx, ind, position) return nil end

local s = string.rep("x", 1 << 20)
function detect_opportunity(market, ctx, ind)
  local t = {}
  for i = 1, 100 do t[i] = s .. i end
  return { big = string.rep(s, 1000) }
end
function filter_commitment(market, ctx, ind)
  return { action = "enter_long", reason = string.rep("r", 5000) }
end
function manage_position() return { action = string.rep("exit", 1e9) } end
