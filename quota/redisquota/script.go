package redisquota

import (
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The script makes every decision of the store in one atomic step on the server, over the
// keys of one limit set (all under one hash tag). Times are integer microseconds on the
// shared timeline (the client's clock corrected by its measured offset to the server's
// TIME), so Lua's doubles hold them exactly.
//
// KEYS[1] is the set's meta hash: "last" (the latest time seen: time never runs
// backwards), "s:<id>" (the last settlement batch applied from instance id) and
// "p:<id>" (that instance's backlog report: "expires high low"). KEYS[2..n+1] are the
// limits' keys:
//   - sliding: field "<i>" is the sum charged in sub-window i (of width w); sub-windows
//     i >= cur-S count, where cur is the current one and S the number of sub-windows;
//   - bucket: "l" the level (negative in debt), "t" when it was last refilled, "x:<id>"
//     instance id's grant, when beyond its need, "expires amount"; "gk" the index of
//     the current period of Per, "gc" the fleet's grants in it, "gp" in the one before;
//   - clock: "w" the current window's index, "u" its usage;
//   - all: "d:<id>" is instance id's reported demand, "expires want".
//
// ARGV: id, now, seq (0: no batch), mode (0 reserve, 1 usage only), lifetime, high, low,
// nlimits, then 8 per limit (meter, amount, per, width, need, want, carrywin, carry),
// then nops and 5 per op (limit, kind, a, b, c), then the epoch the instance knows ("":
// none yet, "-": not checked) and hang (0, or when the instance's recovery from an
// outage ends). Op kinds: 1 sliding refund b at sub-window a; 2 sliding charge b now;
// 3 bucket refund b; 4 bucket charge b; 5 clock settlement of a reservation charged in
// window a, reserved b, actual c; 6 sliding charge b at sub-window a; 7 clock change b
// (a refund when negative) to window a, dropped if a has ended; 8 bucket return b of the
// grant that lapses at a, dropped if it has lapsed.
//
// KEYS[1] also holds "e", the epoch (made when the state is new), and "rb", when the
// fleet's recovery from an outage ends.
//
// Every reply starts {time_s, time_us, now, epoch, rb, code}. Code 1: the instance knows
// another epoch (the state was lost); code 2: a grant was asked for during a recovery by
// an instance that does not hold itself to its own room; neither applies nor grants
// anything. Code 0 goes on with {ok, blocked, retry, {granted, index, used}...} for mode 0
// (used: a Sliding window's sum after the grant; a bucket's: what the fleet was granted
// in the period of Per before the current one) and
// {{used, span, at1, amount1, index1, ...}...} for mode 1.
// S is subWindows, so that the shared window approximates as quota's own store does.
var script = redis.NewScript(strings.Replace(scriptSource, "local S = 200", "local S = "+strconv.Itoa(subWindows), 1))

const scriptSource = `
local S = 200
local function F(x) return string.format('%.0f', x) end
local id = ARGV[1]
local now = tonumber(ARGV[2])
local seq = tonumber(ARGV[3])
local mode = tonumber(ARGV[4])
local life = tonumber(ARGV[5])
local high = tonumber(ARGV[6])
local low = tonumber(ARGV[7])
local n = tonumber(ARGV[8])
local t = redis.call('TIME')

local last = tonumber(redis.call('HGET', KEYS[1], 'last') or '0')
if now < last then now = last end
redis.call('HSET', KEYS[1], 'last', F(now))

-- The set's epoch names its state: a Redis that lost the state (restarted empty) makes a
-- new one, and an instance that knew the old one is told before anything is applied or
-- granted, so that it charges again what it holds. "rb" is when the fleet's recovery from
-- an outage ends: until then an instance asks for grants only within its own room.
local tail = 9 + n*8 + tonumber(ARGV[9 + n*8])*5
local expect, hang = ARGV[tail + 1], tonumber(ARGV[tail + 2])
local ep = redis.call('HGET', KEYS[1], 'e')
if not ep then
  ep = t[1] .. '.' .. t[2]
  redis.call('HSET', KEYS[1], 'e', ep)
end
local rb = tonumber(redis.call('HGET', KEYS[1], 'rb') or '0')
if hang > rb then
  rb = hang
  redis.call('HSET', KEYS[1], 'rb', F(rb))
end
local code = 0
if expect ~= '-' and expect ~= '' and expect ~= ep then
  code = 1
elseif expect ~= '-' and mode == 0 and hang == 0 and rb > now then
  code = 2
end
if code ~= 0 then
  if redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], 3600000) end
  return {tonumber(t[1]), tonumber(t[2]), now, ep, rb, code}
end

local L = {}
for i = 1, n do
  local b = 8 + (i-1)*8
  local l = {key = KEYS[1+i], meter = tonumber(ARGV[b+1]), amount = tonumber(ARGV[b+2]),
    per = tonumber(ARGV[b+3]), w = tonumber(ARGV[b+4]), need = tonumber(ARGV[b+5]),
    want = tonumber(ARGV[b+6]), cwin = tonumber(ARGV[b+7]), carry = tonumber(ARGV[b+8])}
  L[i] = l
  if l.meter == 0 then
    local cur = math.floor(now / l.w)
    l.cur = cur
    l.sub = {}
    l.used = 0
    local h = redis.call('HGETALL', l.key)
    local dead = {}
    for j = 1, #h, 2 do
      local f = h[j]
      if string.sub(f, 1, 2) ~= 'd:' then
        local idx = tonumber(f)
        local v = tonumber(h[j+1])
        if idx < cur - S or v <= 0 then
          dead[#dead+1] = f
        else
          l.sub[idx] = v
          l.used = l.used + v
        end
      end
    end
    if #dead > 0 then redis.call('HDEL', l.key, unpack(dead)) end
  elseif l.meter == 1 then
    local lv = redis.call('HGET', l.key, 'l')
    lv = lv and tonumber(lv) or l.amount
    local tt = redis.call('HGET', l.key, 't')
    tt = tt and tonumber(tt) or now
    -- Through the fleet's recovery from an outage the bucket is held empty (the
    -- instances admit from their own parts of it meanwhile); it fills from the end.
    if rb > tt then
      lv = math.min(lv, 0)
      tt = math.min(rb, now)
    end
    -- The fleet's grants in the current period of Per ("gk" its index, "gc") and the
    -- one before ("gp").
    local pk = math.floor(now / l.per)
    local gk = tonumber(redis.call('HGET', l.key, 'gk') or '-1')
    l.gc = tonumber(redis.call('HGET', l.key, 'gc') or '0')
    l.gp = tonumber(redis.call('HGET', l.key, 'gp') or '0')
    if gk == pk - 1 then
      l.gp, l.gc = l.gc, 0
    elseif gk ~= pk then
      l.gp, l.gc = 0, 0
    end
    l.pk = pk
    -- Grants' extras not yet lapsed ("x:<id>" = "expires extra") lower the bucket's
    -- capacity until they lapse: refill up to Amount less them, lapse by lapse.
    local xs, o = {}, 0
    local h = redis.call('HGETALL', l.key)
    for j = 1, #h, 2 do
      if string.sub(h[j], 1, 2) == 'x:' then
        local e, xv = string.match(h[j+1], '^(%S+) (%S+)')
        e, xv = tonumber(e), tonumber(xv)
        if e <= tt then
          redis.call('HDEL', l.key, h[j])
        else
          xs[#xs+1] = {e, xv, h[j]}
          o = o + xv
        end
      end
    end
    table.sort(xs, function(p, q) return p[1] < q[1] end)
    local function fill(from, to)
      local cap = l.amount - o
      if to > from and lv < cap then lv = math.min(lv + (to - from) * l.amount / l.per, cap) end
    end
    local at = tt
    for _, x in ipairs(xs) do
      if x[1] > now then break end
      fill(at, x[1])
      at = x[1]
      o = o - x[2]
      redis.call('HDEL', l.key, x[3])
    end
    fill(at, now)
    l.level, l.o = lv, o
  else
    local cur = math.floor(now / l.per)
    l.cur = cur
    local w = tonumber(redis.call('HGET', l.key, 'w') or '-1')
    l.u = tonumber(redis.call('HGET', l.key, 'u') or '0')
    if w < cur then l.u = 0 end
    if l.cwin == cur then l.u = l.u + l.carry end
  end
end

-- The settlement batch, unless it was applied before (a retry).
local nops = tonumber(ARGV[9 + n*8])
if seq > 0 and nops > 0 then
  local done = tonumber(redis.call('HGET', KEYS[1], 's:' .. id) or '0')
  if seq > done then
    redis.call('HSET', KEYS[1], 's:' .. id, F(seq))
    for k = 1, nops do
      local b = 9 + n*8 + (k-1)*5
      local l = L[tonumber(ARGV[b+1])]
      local kind = tonumber(ARGV[b+2])
      local a, v, c = tonumber(ARGV[b+3]), tonumber(ARGV[b+4]), tonumber(ARGV[b+5])
      if kind == 1 then
        local cv = l.sub[a]
        if cv then
          local r = math.min(v, cv)
          l.sub[a] = cv - r
          l.used = l.used - r
        end
      elseif kind == 2 then
        l.sub[l.cur] = (l.sub[l.cur] or 0) + v
        l.used = l.used + v
      elseif kind == 6 then
        if a >= l.cur - S then
          l.sub[a] = (l.sub[a] or 0) + v
          l.used = l.used + v
        end
      elseif kind == 3 then
        if l.level < l.amount - l.o then l.level = math.min(l.level + v, l.amount - l.o) end
      elseif kind == 8 then
        -- An instance gives back the unused extra of its grant that lapses at a: only
        -- while it has not lapsed (once it has, the bucket no longer holds its room).
        local x = redis.call('HGET', l.key, 'x:' .. id)
        if x and tonumber(string.match(x, '^(%S+)')) == a and a > now then
          l.o = l.o - tonumber(string.match(x, ' (%S+)$'))
          redis.call('HDEL', l.key, 'x:' .. id)
          if l.level < l.amount - l.o then l.level = math.min(l.level + v, l.amount - l.o) end
        end
      elseif kind == 4 then
        l.level = l.level - v
      elseif kind == 7 then
        if a == l.cur then l.u = math.max(l.u + v, 0) end
      elseif kind == 5 then
        if a < l.cur then
          l.u = l.u - math.min(v, l.u) + math.max(c - v, 0)
        else
          l.u = math.max(l.u + c - v, 0)
        end
      end
    end
  end
end

if rb > now then
  for i = 1, n do
    if L[i].meter == 1 and L[i].level > 0 then L[i].level = 0 end
  end
end

local reply
if mode == 0 then
  -- Instances' backlog reports: another's High backlog holds this one's Low-only
  -- demand back.
  local others, soonest = 0, now + life
  local p = redis.call('HGETALL', KEYS[1])
  for j = 1, #p, 2 do
    local f = p[j]
    if string.sub(f, 1, 2) == 'p:' and f ~= 'p:' .. id then
      local e, hi = string.match(p[j+1], '^(%S+) (%S+)')
      e, hi = tonumber(e), tonumber(hi)
      if e <= now then
        redis.call('HDEL', KEYS[1], f)
      elseif hi > 0 then
        others = others + hi
        if e < soonest then soonest = e end
      end
    end
  end
  redis.call('HSET', KEYS[1], 'p:' .. id, F(now + life) .. ' ' .. F(high) .. ' ' .. F(low))

  local ok, blocked, retry = 1, 0, -1
  if high == 0 and low > 0 and others > 0 then
    ok, blocked, retry = 0, 0, math.min(soonest, now + math.floor(life / 4))
  end
  for i = 1, n do
    local l = L[i]
    local need = math.min(l.need, l.amount)
    local at = -1
    if l.meter == 0 then
      if l.used + need > l.amount then
        local idxs = {}
        for idx in pairs(l.sub) do idxs[#idxs+1] = idx end
        table.sort(idxs)
        local u = l.used
        for _, idx in ipairs(idxs) do
          u = u - l.sub[idx]
          if u + need <= l.amount then at = (idx + S + 1) * l.w break end
        end
      end
    elseif l.meter == 1 then
      if l.level < need then
        at = now + math.ceil((need - l.level) * l.per / l.amount)
      end
    else
      local g = math.floor(l.per / S)
      local pos = now - l.cur * l.per
      if need > 0 and pos < g then
        at = l.cur * l.per + g
      elseif need > 0 and (pos >= l.per - g or l.u + need > l.amount) then
        at = (l.cur + 1) * l.per + g
      end
    end
    if at >= 0 and at > retry then ok, blocked, retry = 0, i - 1, at end
  end
  if ok == 0 and high > 0 then
    -- A High call waits until retry: its report lasts until it asks again.
    redis.call('HSET', KEYS[1], 'p:' .. id, F(math.max(now, retry) + life) .. ' ' .. F(high) .. ' ' .. F(low))
  end
  reply = {tonumber(t[1]), tonumber(t[2]), now, ep, rb, 0, ok, blocked, retry}
  for i = 1, n do
    local l = L[i]
    local grant, idx = 0, 0
    if ok == 1 then
      grant = l.need
      -- Beyond the need, a share of the room left, by the instances' demand; none while
      -- another instance reports High backlog and this one does not, nor in a clock
      -- window's guards.
      local room = 0
      if l.meter == 0 then
        room = l.amount - l.used - grant
      elseif l.meter == 1 then
        room = math.floor(l.level - grant)
      elseif l.meter == 2 then
        local g = math.floor(l.per / S)
        local pos = now - l.cur * l.per
        if pos >= g and pos < l.per - g then room = l.amount - l.u - grant end
      end
      do
        local dem = redis.call('HGETALL', l.key)
        local total = l.want
        for j = 1, #dem, 2 do
          local f = dem[j]
          if string.sub(f, 1, 2) == 'd:' and f ~= 'd:' .. id then
            local e, wv = string.match(dem[j+1], '^(%S+) (%S+)')
            if tonumber(e) <= now then
              redis.call('HDEL', l.key, f)
            else
              total = total + tonumber(wv)
            end
          end
        end
        redis.call('HSET', l.key, 'd:' .. id, F(now + life) .. ' ' .. F(l.want))
        -- A bucket grants beyond the need only to an instance of a fleet (another
        -- reports demand): an extra lowers the bucket's capacity while it lasts, and an
        -- instance alone keeps the bucket exact.
        if l.meter == 1 and total <= l.want then room = 0 end
        if l.want > grant and room > 0 and not (high == 0 and others > 0) then
          local extra = math.min(l.want - grant, math.floor(room * l.want / total))
          if extra > 0 then grant = grant + extra end
        end
      end
      if l.meter == 0 then
        idx = math.floor((now + life) / l.w)
        l.sub[idx] = (l.sub[idx] or 0) + grant
      elseif l.meter == 1 then
        l.level = l.level - grant
        l.gc = l.gc + grant
        if grant > l.need then
          -- The whole grant, so that refunds of the call it was asked for go back to
          -- it too.
          redis.call('HSET', l.key, 'x:' .. id, F(now + life) .. ' ' .. F(grant))
          idx = now + life
        end
      else
        l.u = l.u + grant
        idx = l.cur
      end
    end
    local used = 0
    if l.meter == 0 then used = l.used + (ok == 1 and grant or 0) end
    if l.meter == 1 then used = l.gp end
    reply[#reply+1] = {grant, idx, used}
  end
  if ok == 1 and high > 1 then
    -- More High calls wait here than the one granted, and this instance asks again only
    -- when its next call needs more than its grant; the others, held back and asking
    -- every quarter lifetime, must not take the room that frees meanwhile. So the
    -- report lasts until room for the next call frees, and two lifetimes after.
    local upto = now
    for i = 1, n do
      local l = L[i]
      if l.meter == 0 then
        local need = math.min(l.need, l.amount)
        local u = l.used + reply[9+i][1]
        if u + need > l.amount then
          local idxs = {}
          for idx in pairs(l.sub) do idxs[#idxs+1] = idx end
          table.sort(idxs)
          for _, idx in ipairs(idxs) do
            u = u - l.sub[idx]
            if u + need <= l.amount then upto = math.max(upto, (idx + S + 1) * l.w) break end
          end
        end
      end
    end
    redis.call('HSET', KEYS[1], 'p:' .. id, F(upto + 2 * life) .. ' ' .. F(high) .. ' ' .. F(low))
  end
else
  reply = {tonumber(t[1]), tonumber(t[2]), now, ep, rb, 0}
  for i = 1, n do
    local l = L[i]
    local out
    if l.meter == 0 then
      out = {l.used, (S + 1) * l.w + life}
      local idxs = {}
      for idx in pairs(l.sub) do idxs[#idxs+1] = idx end
      table.sort(idxs)
      for _, idx in ipairs(idxs) do
        if l.sub[idx] > 0 then
          out[#out+1] = (idx + S + 1) * l.w
          out[#out+1] = l.sub[idx]
          out[#out+1] = idx
        end
      end
    elseif l.meter == 1 then
      local used = l.amount - l.level
      out = {math.floor(used + 0.5), l.per}
      if used >= 0.5 then
        out[3] = now + math.ceil(used * l.per / l.amount)
        out[4] = math.floor(used + 0.5)
        out[5] = 0
      end
    else
      out = {l.u, l.per}
      if l.u > 0 then
        out[3] = (l.cur + 1) * l.per
        out[4] = l.u
        out[5] = l.cur
      end
    end
    reply[#reply+1] = out
  end
end

-- Write back what changed, and let idle keys lapse; the meta key (and so the epoch)
-- outlives them all.
local keep = 3600000
for i = 1, n do
  local l = L[i]
  local ttl
  if l.meter == 0 then
    local args = {}
    for idx, v in pairs(l.sub) do args[#args+1] = F(idx) args[#args+1] = F(v) end
    if #args > 0 then redis.call('HSET', l.key, unpack(args)) end
    ttl = math.ceil(((S + 2) * l.w + 2 * life) / 1000) + 60000
  elseif l.meter == 1 then
    redis.call('HSET', l.key, 'l', string.format('%.17g', l.level), 't', F(now), 'gk', F(l.pk), 'gc', F(l.gc), 'gp', F(l.gp))
    ttl = math.ceil(2 * l.per / 1000) + 60000
  else
    redis.call('HSET', l.key, 'w', F(l.cur), 'u', F(l.u))
    ttl = math.ceil(2 * l.per / 1000) + 60000
  end
  redis.call('PEXPIRE', l.key, ttl)
  if ttl > keep then keep = ttl end
end
redis.call('PEXPIRE', KEYS[1], keep)
return reply
`
