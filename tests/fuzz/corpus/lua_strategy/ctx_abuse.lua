function detect_opportunity(market, ctx, ind) return nil end
function filter_commitment(market, ctx, ind) return nil end
function manage_position(market, ctx, ind, position) return nil end

function detect_opportunity(market, ctx, ind)
  for i = 1, 10000 do ctx["k" .. i] = string.rep("v", i) end
  ctx.n = 0/0
  return { a = 1, b = 0/0 }
end
function filter_commitment(market, ctx, ind)
  ctx[1] = true
  for k in pairs(ctx) do ctx[k] = nil end
  return { action = "enter_short", stop_loss = market.bid * 2, take_profit = market.bid / 2, quantity = 1e308 }
end
function manage_position(market, ctx, ind, position)
  return { action = "update_stop_loss", price = position.entry_price * (position.direction == "long" and 0.5 or 1.5) }
end
