-- rsi_reversion.lua: mean reversion on RSI extremes, long and short.
--
--   Idle        RSI below `oversold` (or above `overbought`) marks an opportunity; the side we
--               expect the price to revert to is stored in ctx.direction.
--   Analyzing   Waits for the RSI to turn back inside the band (the move is losing steam), then
--               enters with a stop and a target sized from the average true range (ATR).
--               Gives up after `max_wait` candles.
--   InPosition  Exits when the RSI reaches 50 (the mean); the engine's auto-exit handles the
--               stop-loss and take-profit on every price update in between.
--
-- params: period (14), oversold (30), overbought (70), atr_period (14), stop_atr (1.5),
-- target_atr (2.5), max_wait (10 candles).

local period = params.period or 14
local oversold = params.oversold or 30
local overbought = params.overbought or 70
local atr_period = params.atr_period or 14
local stop_atr = params.stop_atr or 1.5
local target_atr = params.target_atr or 2.5
local max_wait = params.max_wait or 10

function detect_opportunity(market, ctx, ind)
    local rsi = ind.rsi(period)
    if rsi == nil then return nil end
    if rsi < oversold then
        return { direction = "long", waited = 0,
                 reason = string.format("RSI %.1f below %g: oversold", rsi, oversold) }
    elseif rsi > overbought then
        return { direction = "short", waited = 0,
                 reason = string.format("RSI %.1f above %g: overbought", rsi, overbought) }
    end
    return nil
end

function filter_commitment(market, ctx, ind)
    local rsi, atr = ind.rsi(period), ind.atr(atr_period)
    ctx.waited = ctx.waited + 1
    if ctx.waited > max_wait then
        return { action = "cancel_analysis", reason = "RSI did not turn back in time" }
    end
    if atr == nil or atr <= 0 then return nil end
    if ctx.direction == "long" and rsi > oversold then
        local entry = market.ask
        return { action = "enter_long", stop_loss = entry - stop_atr * atr,
                 take_profit = entry + target_atr * atr,
                 reason = string.format("RSI back above %g (%.1f)", oversold, rsi) }
    elseif ctx.direction == "short" and rsi < overbought then
        local entry = market.bid
        return { action = "enter_short", stop_loss = entry + stop_atr * atr,
                 take_profit = entry - target_atr * atr,
                 reason = string.format("RSI back below %g (%.1f)", overbought, rsi) }
    end
    return nil -- still extreme: keep waiting
end

function manage_position(market, ctx, ind, position)
    local rsi = ind.rsi(period)
    if position.side == "long" and rsi >= 50 then
        return { action = "exit", reason = string.format("RSI back to the mean (%.1f)", rsi) }
    elseif position.side == "short" and rsi <= 50 then
        return { action = "exit", reason = string.format("RSI back to the mean (%.1f)", rsi) }
    end
    return nil
end
