function detect_opportunity(market, ctx, ind) return nil end
function filter_commitment(market, ctx, ind) return nil end
function manage_position(market, ctx, ind, position) return nil end

function detect_opportunity(market, ctx, ind) while true do end end
function manage_position(market, ctx, ind, position) local i = 0 repeat i = i + 1 until false end
