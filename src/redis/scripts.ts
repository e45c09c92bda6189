import { createHash } from 'node:crypto'
import { RESP_TYPES } from 'redis'
import type { RedisConnection } from './options.js'

/**
 * The reply types every command of the broker asks for, whatever the client's own mapping:
 * strings as strings, and RESP3 maps as `Map` (RESP2 sends arrays of pairs instead).
 */
export const REPLY_TYPES = Object.freeze({ [RESP_TYPES.MAP]: Map })

/** A Lua script, sent by its digest once Redis has cached it. */
export interface LuaScript {
  /** The script's text. */
  readonly source: string
  /** Its SHA-1 digest, for `EVALSHA`. */
  readonly sha: string
}

const lua = (source: string): LuaScript => ({
  source,
  sha: createHash('sha1').update(source).digest('hex'),
})

// Compares two canonical ids (`<ms>-<seq>`, no leading zeros) as numbers, digit strings being
// compared by length first: sequence numbers can pass 2^53, which Lua's numbers cannot hold.
const COMPARE_IDS = `
local function cmpPart(a, b)
  if #a ~= #b then return #a < #b and -1 or 1 end
  if a == b then return 0 end
  return a < b and -1 or 1
end
local function cmpId(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  local c = cmpPart(am, bm)
  if c ~= 0 then return c end
  return cmpPart(as, bs)
end
`

// Reads a log's newest id; `0-0` for a log that does not exist. XINFO STREAM is O(1).
const LAST_GENERATED = `
local function lastGenerated(key)
  if redis.call('EXISTS', key) == 0 then return '0-0', nil end
  local info = redis.call('XINFO', 'STREAM', key)
  local last, first = '0-0', nil
  for j = 1, #info, 2 do
    if info[j] == 'last-generated-id' then last = info[j + 1]
    elseif info[j] == 'first-entry' and info[j + 1] then first = info[j + 1][1] end
  end
  return last, first
end
`

/**
 * Appends an entry, trims the log by length and age, and pushes back the expiry of the
 * stream and its checkpoint: one round trip per event, atomic.
 *
 * The id is chosen here rather than by `*`: `<ms>-<n>`, where `ms` is Redis's clock (never
 * below the previous id's) and `n` counts the log's entries from 1. Redis keeps no trace of
 * where a trimmed log starts (`max-deleted-entry-id` only follows `XDEL`), but with `n` in
 * the ids, a cursor is expired exactly when entries numbered between it and the oldest
 * retained entry were trimmed.
 *
 * KEYS: stream, checkpoint. ARGV: type, ts, data, maxLen, maxAgeMs (0 = off), idleMs (0 = off).
 * Returns `{ id, previous id }`, the previous id being `0-0` for the log's first entry.
 */
export const APPEND = lua(`${LAST_GENERATED}
local last = lastGenerated(KEYS[1])
local lastMs, lastN = string.match(last, '^(%d+)-(%d+)$')
local time = redis.call('TIME')
local ms = math.max(tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000), tonumber(lastMs))
local id = string.format('%.0f-%.0f', ms, tonumber(lastN) + 1)
redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[4], id, 'type', ARGV[1], 'ts', ARGV[2], 'data', ARGV[3])
local maxAge = tonumber(ARGV[5])
if maxAge > 0 and ms > maxAge then
  redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%.0f', ms - maxAge))
end
if ARGV[6] ~= '0' then
  redis.call('PEXPIRE', KEYS[1], ARGV[6])
  redis.call('PEXPIRE', KEYS[2], ARGV[6])
end
return {id, last}
`)

/**
 * Reads where each log stands and the entries after a cursor, atomically, so the entries
 * are exactly those the log retains after the cursor when its bounds are read.
 *
 * KEYS: streams. ARGV[1]: the most entries per stream (0 = none, -1 = all), then one cursor
 * per stream (`0-0` for the start). Returns, per stream, `{ last-generated-id, first
 * retained id or '', 1 when the cursor is an entry of the log else 0, entries }`.
 */
export const TAIL = lua(`${LAST_GENERATED}
local count = tonumber(ARGV[1])
local out = {}
for i, key in ipairs(KEYS) do
  local cursor = ARGV[i + 1]
  local last, first = lastGenerated(key)
  local found, entries = 0, {}
  if first then
    if cursor ~= '0-0' and #redis.call('XRANGE', key, cursor, cursor) > 0 then found = 1 end
    if count < 0 then
      entries = redis.call('XRANGE', key, '(' .. cursor, '+')
    elseif count > 0 then
      entries = redis.call('XRANGE', key, '(' .. cursor, '+', 'COUNT', count)
    end
  end
  out[i] = {last, first or '', found, entries}
end
return out
`)

/**
 * Stores a checkpoint unless the one stored is at a later or the same event.
 *
 * KEYS: checkpoint. ARGV: its event id (canonical), its JSON, idleMs (0 = off).
 * Returns 1 when stored, 0 when the stored one was kept.
 */
export const SAVE_CHECKPOINT = lua(`${COMPARE_IDS}
local stored = redis.call('HGET', KEYS[1], 'at')
if stored and cmpId(ARGV[1], stored) <= 0 then return 0 end
redis.call('HSET', KEYS[1], 'at', ARGV[1], 'checkpoint', ARGV[2])
if ARGV[3] ~= '0' then redis.call('PEXPIRE', KEYS[1], ARGV[3]) end
return 1
`)

/**
 * Takes a claim unless one holds. KEYS: claim. ARGV: value, ttl in ms.
 * Returns the value of the claim that holds after the call.
 */
export const CLAIM = lua(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return ARGV[1] end
return redis.call('GET', KEYS[1])
`)

/**
 * Renews or drops a claim that holds a value. KEYS: claim. ARGV: value, ttl in ms (0 drops).
 * Returns 1 when the claim held the value, 0 otherwise.
 */
export const RENEW = lua(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
`)

/**
 * Runs a script by its digest, and by its text when Redis does not have it cached (first
 * use, or a restarted server).
 *
 * @param connection - where to run it
 * @param script - the script
 * @param keys - its KEYS
 * @param args - its ARGV
 * @returns the script's reply
 */
export async function runScript(
  connection: RedisConnection,
  script: LuaScript,
  keys: readonly string[],
  args: readonly string[],
): Promise<unknown> {
  const tail = [String(keys.length), ...keys, ...args]
  try {
    return await connection.sendCommand(['EVALSHA', script.sha, ...tail], { typeMapping: REPLY_TYPES })
  } catch (error) {
    if (!(error instanceof Error && error.message.startsWith('NOSCRIPT'))) throw error
    return await connection.sendCommand(['EVAL', script.source, ...tail], { typeMapping: REPLY_TYPES })
  }
}
