"""The Lua script that probes, verifies and inserts into one time bucket of the dedup index atomically.

Keys of one bucket, all sharing the hash tag `{<prefix>:dd:<YYYYMMDD>}` so that they sit in one Redis Cluster
slot and one script call may touch them all (the script builds the sibling names from KEYS[1], the tag):
  T:s         the bucket is sealed: a later bucket exists, so nothing more is inserted here
  T:m         "<band bits> <doc bits>", the bucket's shard counts, fixed by its first insert
  T:n         originals indexed in the bucket
  T:b:<i>     band shard i: 8-byte entries = band fingerprint (3) | record shard (2) | record index (3)
  T:r:<j>     record shard j: fixed-size signature records of originals (workers/signature.py RECORD_SIZE)
  T:d:<j>     decision shard j: 22-byte entries = doc key (10) | relation (1) | canonical key (10) | similarity
Every key written gets EXPIREAT = end of the bucket + the dedup window.
"""

LUA = r"""
local tag, mode = KEYS[1], ARGV[1]
local doc, expire_at, hint = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local bands, record = ARGV[5], ARGV[6]
local min_containment, min_shared = tonumber(ARGV[7]), tonumber(ARGV[8])
local num_perm, lead_perm, lead_shingles = tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
local prior = ARGV[12]
local RS = 18 + num_perm + lead_perm

if mode == 'probe' then
  redis.call('SET', tag .. ':s', '1', 'EXAT', expire_at)
elseif redis.call('EXISTS', tag .. ':s') == 1 then
  return {'sealed'}
end

local meta = redis.call('GET', tag .. ':m')
local bbits, dbits
if meta then
  local a, b = string.match(meta, '(%d+) (%d+)')
  bbits, dbits = tonumber(a), tonumber(b)
end

local function doc_shard(key, bits)
  -- The id's last two bytes: uniform for url_id hashes and still spread for sequential test ids.
  return bit.band(struct.unpack('>I2', key, 9), bit.lshift(1, bits) - 1)
end

local function find_aligned(haystack, needle, width)
  local init = 1
  while true do
    local pos = string.find(haystack, needle, init, true)
    if not pos then return nil end
    if (pos - 1) % width == 0 then return pos end
    init = pos + 1
  end
end

-- An earlier decision for this document (a retried job) is returned as it was.
if meta then
  local decisions = redis.call('GET', tag .. ':d:' .. doc_shard(doc, dbits))
  if decisions then
    local pos = find_aligned(decisions, doc, 22)
    if pos then
      return {'known', string.sub(decisions, pos + 10, pos + 10), string.sub(decisions, pos + 11, pos + 20),
              tostring(string.byte(decisions, pos + 21) / 255)}
    end
  end
end

local function estimate(a, b)
  -- Matching slots, corrected for the 1/256 chance agreement of one-byte values.
  local function jaccard(off, n)
    local same = 0
    for i = off, off + n - 1 do
      if string.byte(a, i) == string.byte(b, i) then same = same + 1 end
    end
    return math.max(0, (same / n - 1 / 256) / (1 - 1 / 256))
  end
  local sa, sb = struct.unpack('>I2', a, 17), struct.unpack('>I2', b, 17)
  local j = jaccard(19, num_perm)
  local jl = jaccard(19 + num_perm, lead_perm)
  local la, lb = math.min(sa, lead_shingles), math.min(sb, lead_shingles)
  -- |A and B| from J and the set sizes; the shared lead is a lower bound on the shared whole.
  local shared = math.max(j * (sa + sb) / (1 + j), jl * (la + lb) / (1 + jl))
  return math.min(1, shared / math.max(1, math.min(sa, sb))), shared
end

local best_key, best_rel, best_sim = nil, nil, -1
local shards = {}
if meta then
  local shard_mask = bit.lshift(1, bbits) - 1
  local seen = {}
  for k = 1, #bands, 8 do
    local shard = bit.band(struct.unpack('>I4', bands, k), shard_mask)
    local entries = shards[shard]
    if entries == nil then
      entries = redis.call('GET', tag .. ':b:' .. shard) or ''
      shards[shard] = entries
    end
    local fp, init = string.sub(bands, k + 4, k + 6), 1
    while true do
      local pos = string.find(entries, fp, init, true)
      if not pos then break end
      if (pos - 1) % 8 == 0 then
        local handle = string.sub(entries, pos + 3, pos + 7)
        if not seen[handle] then
          seen[handle] = true
          local rshard, index = struct.unpack('>I2', handle), struct.unpack('>I3', handle, 3)
          local cand = redis.call('GETRANGE', tag .. ':r:' .. rshard, index * RS, index * RS + RS - 1)
          if #cand == RS then
            local rel, sim
            if string.sub(cand, 11, 16) == string.sub(record, 11, 16) then
              rel, sim = 'e', 1
            else
              local containment, shared = estimate(record, cand)
              if containment >= min_containment and shared >= min_shared then rel, sim = 'n', containment end
            end
            if rel and sim > best_sim then
              best_key, best_rel, best_sim = string.sub(cand, 1, 10), rel, sim
            end
          end
        end
      end
      init = pos + 1
    end
  end
end

local count = tonumber(redis.call('GET', tag .. ':n') or '0')
if mode == 'probe' then
  if best_key then return {'match', best_rel, best_key, tostring(best_sim), count} end
  return {'none', count}
end

-- mode == 'decide': this bucket is current; choose between its match and the best of the older buckets.
if #prior > 0 then
  local prior_sim = string.byte(prior, 12) / 255
  if prior_sim >= best_sim then
    best_key, best_rel, best_sim = string.sub(prior, 2, 11), string.sub(prior, 1, 1), prior_sim
  end
end

if not meta then
  -- Shards sized from the expected number of originals (the previous bucket's count): ~128 band entries
  -- per band shard and ~64 records per record shard keep every string small to fetch and scan.
  local docs = math.max(hint, 1)
  bbits = math.min(20, math.max(4, math.ceil(math.log(docs * (#bands / 8) / 128) / math.log(2))))
  dbits = math.min(16, math.max(2, math.ceil(math.log(docs / 64) / math.log(2))))
  redis.call('SET', tag .. ':m', bbits .. ' ' .. dbits, 'EXAT', expire_at)
end

local dshard = doc_shard(doc, dbits)
-- Strings grow by SET of the old value and the new entry, not APPEND: APPEND preallocates up to twice the
-- length (measured +50% per indexed document); SET allocates what the value needs.
local function extend(key, old, entry)
  redis.call('SET', key, (old or redis.call('GET', key) or '') .. entry, 'EXAT', expire_at)
end
local function remember(rel, key, sim)
  extend(tag .. ':d:' .. dshard, nil, doc .. rel .. key .. string.char(math.floor(sim * 255 + 0.5)))
end

if best_key then
  remember(best_rel, best_key, best_sim)
  return {'match', best_rel, best_key, tostring(best_sim)}
end

local rkey = tag .. ':r:' .. dshard
local records = redis.call('GET', rkey) or ''
local handle = struct.pack('>I2', dshard) .. string.sub(struct.pack('>I4', #records / RS), 2, 4)
extend(rkey, records, record)
local shard_mask, added = bit.lshift(1, bbits) - 1, {}
for k = 1, #bands, 8 do
  local shard = bit.band(struct.unpack('>I4', bands, k), shard_mask)
  added[shard] = (added[shard] or '') .. string.sub(bands, k + 4, k + 6) .. handle
end
for shard, entries in pairs(added) do
  extend(tag .. ':b:' .. shard, shards[shard], entries)
end
redis.call('INCR', tag .. ':n')
redis.call('EXPIREAT', tag .. ':n', expire_at)
remember('o', doc, 1)
return {'original'}
"""
