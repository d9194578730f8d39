function detect_opportunity(market, ctx, ind) return nil end
function filter_commitment(market, ctx, ind) return nil end
function manage_position(market, ctx, ind, position) return nil end

function detect_opportunity(market, ctx, ind)
  local vals = {}
  for n = 1, 200 do vals[#vals + 1] = ind.sma(n) ind.ema(n) ind.rsi(n) ind.atr(n) end
  pcall(ind.macd, 26, 12, 9)
  pcall(ind.bollinger, 20, 0/0)
  pcall(ind.sma, math.maxinteger)
  pcall(ind.sma, -1)
  pcall(ind.sma, "20")
  pcall(ind.sma)
  return { reason = tostring(ind.bollinger(20, 2)) }
end
