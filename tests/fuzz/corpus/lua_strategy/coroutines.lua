function detect_opportunity(market, ctx, ind) return nil end
function filter_commitment(market, ctx, ind) return nil end
function manage_position(market, ctx, ind, position) return nil end

local function spin() while true do coroutine.yield(1) end end
function detect_opportunity(market, ctx, ind)
  local co = coroutine.wrap(spin)
  for i = 1, 1e9 do co() end
end
function filter_commitment(market, ctx, ind)
  local cos = {}
  for i = 1, 1e6 do cos[i] = coroutine.create(function() coroutine.yield() end) coroutine.resume(cos[i]) end
end
function manage_position(market, ctx, ind, position)
  local co = coroutine.create(function() error(setmetatable({}, {__tostring = function() error("again") end})) end)
  return select(2, coroutine.resume(co))
end
