function detect_opportunity(market, ctx, ind) return nil end
function filter_commitment(market, ctx, ind) return nil end
function manage_position(market, ctx, ind, position) return nil end

function detect_opportunity(market, ctx, ind) error({}) end
function filter_commitment(market, ctx, ind) error(setmetatable({}, { __tostring = function() while true do end end })) end
function manage_position(market, ctx, ind, position) error(string.rep("e", 100000)) end
