-- sma_cross.lua: trend following on a fast/slow simple-moving-average crossover.
--
-- A teaching example of the strategy contract (docs/lua-api.md has all of it):
--
--   Idle        detect_opportunity(market, ctx, ind)
--               Watches for the fast SMA crossing above the slow one. Returning a table is an
--               "opportunity": the runner merges its fields into ctx and moves to Analyzing.
--   Analyzing   filter_commitment(market, ctx, ind)
--               One candle later, checks that the cross held. If so, enters long with a
--               stop-loss under the recent lows and a take-profit at `risk_reward` times the risk;
--               if not, cancels the analysis (back to Idle).
--   InPosition  manage_position(market, ctx, ind, position)
--               Exits when the fast SMA falls back under the slow one, and moves the stop to
--               break-even once the trade has gained one unit of risk. The engine also exits by
--               itself whenever a price update touches the stop-loss or the take-profit.
--
-- params (from the config's [symbols.params]): fast (10), slow (30), risk_reward (2),
-- stop_lookback (10 candles).
--
-- Every function is called once per closed candle. `market`, `ind` and `position` are reused by
-- the engine between calls: read them, don't keep references to them.

local fast_n = params.fast or 10
local slow_n = params.slow or 30
local risk_reward = params.risk_reward or 2
local stop_lookback = params.stop_lookback or 10

function on_init()
    log.info("sma_cross on " .. params_summary())
end

function params_summary()
    return string.format("fast=%d slow=%d risk_reward=%g", fast_n, slow_n, risk_reward)
end

function detect_opportunity(market, ctx, ind)
    local fast, slow = ind.sma(fast_n), ind.sma(slow_n)
    if fast == nil or slow == nil then
        return nil -- not enough candles yet
    end
    local above = fast > slow
    local was_above = ctx.fast_above -- ctx keeps booleans, numbers and strings between calls
    if above ~= was_above then
        -- Write ctx only when something changed: each write is copied to the daemon's side
        -- of ctx (what survives reloads), so unchanged rewrites are wasted work.
        ctx.fast_above = above
    end
    if above and was_above == false then
        -- The fields of an opportunity are merged into ctx; `reason` goes to the decision log.
        return { reason = "fast SMA crossed above slow SMA", cross_close = market.close }
    end
    return nil
end

function filter_commitment(market, ctx, ind)
    local fast, slow = ind.sma(fast_n), ind.sma(slow_n)
    if fast <= slow then
        ctx.fast_above = false
        return { action = "cancel_analysis", reason = "the cross did not hold" }
    end
    local entry = market.ask -- a long entry fills at the ask
    local stop = ind.lowest(stop_lookback)
    if stop == nil or stop >= entry * 0.999 then
        stop = entry * 0.99 -- the recent low is too close: use a 1% stop instead
    end
    local risk = entry - stop
    return {
        action = "enter_long",
        -- quantity omitted: the symbol's configured order quantity is used
        stop_loss = stop,
        take_profit = entry + risk * risk_reward,
        reason = string.format("cross held (fast %.2f > slow %.2f)", fast, slow),
    }
end

function manage_position(market, ctx, ind, position)
    local fast, slow = ind.sma(fast_n), ind.sma(slow_n)
    if fast < slow then
        ctx.fast_above = false
        return { action = "exit", reason = "fast SMA crossed back below slow SMA" }
    end
    local stop = position.stop_loss
    if stop ~= nil and stop < position.entry_price then
        local risk = position.entry_price - stop
        if market.bid > position.entry_price + risk then
            return { action = "update_stop_loss", price = position.entry_price,
                     reason = "one unit of risk gained: stop to break-even" }
        end
    end
    return nil
end
