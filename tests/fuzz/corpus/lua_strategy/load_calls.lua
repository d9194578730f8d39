function detect_opportunity(market, ctx, ind) return nil end
function filter_commitment(market, ctx, ind) return nil end
function manage_position(market, ctx, ind, position) return nil end

function detect_opportunity(market, ctx, ind)
  local f = load("return 1 + 1")
  local g = load(string.dump and string.dump(f) or "\27Lua")
  local h = pcall(load, function() return nil end)
  local chunk = "return " .. string.rep("(", 300) .. "1" .. string.rep(")", 300)
  pcall(load(chunk) or print)
  return load("local x = ... return { v = x }")(f and f())
end
function filter_commitment(market, ctx, ind)
  local src = "while true do end"
  return load(src)()
end
