function detect_opportunity(market, ctx, ind) return nil end
function filter_commitment(market, ctx, ind) return nil end
function manage_position(market, ctx, ind, position) return nil end

local evil = setmetatable({}, { __index = function(t, k) return k end, __len = function() return -1 end,
  __eq = function() error("eq") end, __lt = function() while true do end end })
function detect_opportunity(market, ctx, ind)
  return setmetatable({ reason = "mt" }, { __pairs = function() error("pairs") end, __index = evil })
end
function filter_commitment(market, ctx, ind)
  local ok = pcall(setmetatable, market, {})
  pcall(function() market.close = 1 end)
  pcall(function() ctx.x = evil end)
  return setmetatable({}, { __index = { action = "enter_long" } })
end
function manage_position(market, ctx, ind, position)
  return { action = "exit", reason = setmetatable({}, { __tostring = function() return "r" end }) }
end
