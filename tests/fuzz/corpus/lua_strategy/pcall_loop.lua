function detect_opportunity(market, ctx, ind) return nil end
function filter_commitment(market, ctx, ind) return nil end
function manage_position(market, ctx, ind, position) return nil end

function detect_opportunity(market, ctx, ind)
  while true do pcall(function() while true do end end) end
end
function filter_commitment(market, ctx, ind)
  for i = 1, 1e9 do xpcall(error, function(e) return e end, "x") end
end
