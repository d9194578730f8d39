function detect_opportunity(market, ctx, ind) return nil end
function filter_commitment(market, ctx, ind) return nil end
function manage_position(market, ctx, ind, position) return nil end

local function r(n) return r(n + 1) + 1 end
local function t(n) return t(n + 1) end
function detect_opportunity(market, ctx, ind) return r(1) end
function filter_commitment(market, ctx, ind) return t(1) end
function manage_position(market, ctx, ind, position)
  local s = "" for i = 1, 200 do s = "{" .. s .. "}" end
  return load("return " .. s)()
end
