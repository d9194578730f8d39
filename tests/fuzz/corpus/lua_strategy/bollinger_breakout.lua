-- bollinger_breakout.lua: trade breakouts from the Bollinger bands, both directions.
--
--   Idle        A close outside the bands is a breakout candidate; remember which side.
--   Analyzing   The next candle must close outside the same band again (a confirmed breakout):
--               enter in that direction with the stop at the middle band and a target twice as
--               far. Otherwise cancel.
--   InPosition  Trail the stop to the middle band as it moves in our favour; exit when a
--               candle closes back beyond the middle band.
--
-- params: period (20), k (2 standard deviations).
--
-- ind.bollinger returns three values: upper, middle, lower (nil, nil, nil until ready).

local period = params.period or 20
local k = params.k or 2

function detect_opportunity(market, ctx, ind)
    local upper, middle, lower = ind.bollinger(period, k)
    if upper == nil then return nil end
    if market.close > upper then
        return { side = "long", reason = string.format("close %.2f above upper band %.2f", market.close, upper) }
    elseif market.close < lower then
        return { side = "short", reason = string.format("close %.2f below lower band %.2f", market.close, lower) }
    end
    return nil
end

function filter_commitment(market, ctx, ind)
    local upper, middle, lower = ind.bollinger(period, k)
    if ctx.side == "long" and market.close > upper and middle < market.ask then
        local entry = market.ask
        return { action = "enter_long", stop_loss = middle, take_profit = entry + 2 * (entry - middle),
                 reason = "breakout above the upper band confirmed" }
    elseif ctx.side == "short" and market.close < lower and middle > market.bid then
        local entry = market.bid
        return { action = "enter_short", stop_loss = middle, take_profit = entry - 2 * (middle - entry),
                 reason = "breakout below the lower band confirmed" }
    end
    return { action = "cancel_analysis", reason = "breakout not confirmed" }
end

function manage_position(market, ctx, ind, position)
    local upper, middle, lower = ind.bollinger(period, k)
    if position.side == "long" then
        if market.close < middle then
            return { action = "exit", reason = "closed back under the middle band" }
        end
        if middle > (position.stop_loss or 0) and middle < market.bid then
            return { action = "update_stop_loss", price = middle, reason = "trail stop to the middle band" }
        end
    else
        if market.close > middle then
            return { action = "exit", reason = "closed back over the middle band" }
        end
        if position.stop_loss ~= nil and middle < position.stop_loss and middle > market.ask then
            return { action = "update_stop_loss", price = middle, reason = "trail stop to the middle band" }
        end
    end
    return nil
end
