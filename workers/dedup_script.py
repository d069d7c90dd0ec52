"""The Lua script that probes, verifies and inserts into the dedup index's time buckets atomically.

One bucket is one Redis hash, named by its hash tag `{<prefix>:dd:<YYYYMMDD of the bucket's start>}` (one
Redis Cluster slot per bucket), with EXPIREAT = end of the bucket + the dedup window. Its fields:
  s       the bucket is sealed: a later bucket exists, so nothing more is inserted here
  m       "<band bits> <doc bits>", the bucket's shard counts, fixed by its first insert
  n       originals indexed in the bucket
  b<i>    band shard i: 5-byte entries = band fingerprint (2) | handle (3) = record shard << (24 - doc bits)
          | record index; a fingerprint that matches by chance costs one record read, no error
  r<j>    record shard j: fixed-size signature records of originals (workers/signature.py RECORD_SIZE);
          an original's record is also its remembered decision (retries find it by the doc key)
  d<j>    decision shard j, copies only: 22-byte entries = doc key (10) | relation (1) | canonical key (10)
          | similarity (1)
Why one hash and not a key per shard: a script's cost is mostly its calls into Redis (~1-3 us each, writes
dearer) and the bytes it moves (~1.6 ns a byte), so a decision reads every shard it needs with one HMGET and
writes them with one HSET; and a hash field costs ~40 bytes of overhead where a key with a TTL costs ~110.
Shards are kept small (~BAND_SHARD_ENTRIES entries, ~SHARD_RECORDS records), counted for the originals
expected in the bucket: the previous bucket's count, at least MIN_EXPECTED.

ARGV: mode, expire_at, hint, band keys, the document's record, prior, previous expire_at. Two ways to call it:
  decide, KEYS = [current, previous]: one call seals and probes the previous bucket, then decides in the
      current one (standalone Redis: the two tags may hash to different slots there).
  probe, KEYS = [previous], then decide, KEYS = [current] with prior = the probe's best match, relation (1) |
      canonical key (10) | similarity byte (1), and hint = its count (Redis Cluster: one slot per call).
hint is the number of originals in the previous bucket, which sizes a new bucket's shards.
"""

from string import Template

from workers.signature import BAND_KEY_SIZE, LEAD_PERM, LEAD_SHINGLES, NUM_PERM, RECORD_SIZE

_LUA = Template(r"""
local mode, expire_at, hint = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local bands, record, prior = ARGV[4], ARGV[5], ARGV[6]
local doc = string.sub(record, 1, 10)
local RS, BK, EW = $record_size, $band_key_size, 5
-- Each band's shard-selecting word and fingerprint, read once for both probes and the insert.
local band_word, band_fp = {}, {}
for k = 1, #bands, BK do
  band_word[#band_word + 1] = struct.unpack('>I4', bands, k)
  band_fp[#band_fp + 1] = string.sub(bands, k + 4, k + 5)
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

-- Shard field names, each made once: both buckets usually have the same shard counts, and number-to-string
-- conversion is one of the dearer steps of a probe.
local band_field = setmetatable({}, {__index = function(names, shard)
  local name = 'b' .. shard
  names[shard] = name
  return name
end})

local own_slots  -- the document's sketch bytes, unpacked once for all its candidates

local function estimate(cand)
  -- Matching slots, corrected for the 1/256 chance agreement of one-byte values. Slots are compared as
  -- unpacked byte tables: two string.byte calls a slot would cost three times as much.
  own_slots = own_slots or {string.byte(record, 19, RS)}
  local slots = {string.byte(cand, 19, RS)}
  local function jaccard(first, last)
    local same = 0
    for i = first, last do
      if own_slots[i] == slots[i] then same = same + 1 end
    end
    return math.max(0, (same / (last - first + 1) - 1 / 256) / (1 - 1 / 256))
  end
  local sa, sb = struct.unpack('>I2', record, 17), struct.unpack('>I2', cand, 17)
  local j = jaccard(1, $num_perm)
  local jl = jaccard($num_perm + 1, $num_perm + $lead_perm)
  local la, lb = math.min(sa, $lead_shingles), math.min(sb, $lead_shingles)
  -- |A and B| from J and the set sizes; the shared lead is a lower bound on the shared whole.
  local shared = math.max(j * (sa + sb) / (1 + j), jl * (la + lb) / (1 + jl))
  return math.min(1, shared / math.max(1, math.min(sa, sb))), shared
end

-- Look the document up in one bucket, given its 'm' field: its earlier decision (a retried job) in b.known,
-- else its best verified match in b.key/b.rel/b.sim; b keeps what an insert into the bucket needs.
local function probe(key, meta)
  local b = {shards = {}, sim = -1}
  if not meta then return b end
  local x, y = string.match(meta, '(%d+) (%d+)')
  b.bbits, b.dbits = tonumber(x), tonumber(y)
  b.dshard = doc_shard(doc, b.dbits)
  local shard_mask, fields, at = bit.lshift(1, b.bbits) - 1, {'r' .. b.dshard, 'd' .. b.dshard}, {}
  for i = 1, #band_word do
    local shard = bit.band(band_word[i], shard_mask)
    if not at[shard] then
      fields[#fields + 1] = band_field[shard]
      at[shard] = #fields
    end
  end
  local values = redis.call('HMGET', key, unpack(fields))
  b.records = values[1] or ''
  if find_aligned(b.records, doc, RS) then
    b.known = {'known', 'o', doc, '1'}
    return b
  end
  b.decisions = values[2] or ''
  local decisions = b.decisions
  local pos = find_aligned(decisions, doc, 22)
  if pos then
    b.known = {'known', string.sub(decisions, pos + 10, pos + 10), string.sub(decisions, pos + 11, pos + 20),
               tostring(string.byte(decisions, pos + 21) / 255)}
    return b
  end
  local ibits, seen = 24 - b.dbits, {}
  for shard, i in pairs(at) do
    b.shards[shard] = values[i] or ''
  end
  for i = 1, #band_word do
    local entries = b.shards[bit.band(band_word[i], shard_mask)]
    local fp, init = band_fp[i], 1
    while true do
      pos = string.find(entries, fp, init, true)
      if not pos then break end
      if (pos - 1) % EW == 0 then
        local handle = struct.unpack('>I3', entries, pos + 2)
        if not seen[handle] then
          seen[handle] = true
          local rshard, index = bit.rshift(handle, ibits), bit.band(handle, bit.lshift(1, ibits) - 1)
          local shard_records = rshard == b.dshard and b.records or redis.call('HGET', key, 'r' .. rshard) or ''
          local cand = string.sub(shard_records, index * RS + 1, index * RS + RS)
          if #cand == RS then
            local rel, sim
            if string.sub(cand, 11, 16) == string.sub(record, 11, 16) then
              rel, sim = 'e', 1
            else
              local containment, shared = estimate(cand)
              if containment >= $min_containment and shared >= $min_shared then rel, sim = 'n', containment end
            end
            if rel and sim > b.sim then b.key, b.rel, b.sim = string.sub(cand, 1, 10), rel, sim end
          end
        end
      end
      init = pos + 1
    end
  end
  return b
end

-- Seal an older bucket (a write only the first time) and return its 'm' field, both from one read.
local function seal(key, at)
  local head = redis.call('HMGET', key, 's', 'm')
  if not head[1] then
    redis.call('HSET', key, 's', '1')
    redis.call('EXPIREAT', key, at)
  end
  return head[2]
end

local function count(key)
  return tonumber(redis.call('HGET', key, 'n') or '0')
end

if mode == 'probe' then
  -- An older bucket, probed by itself (Redis Cluster, where it may live on another node): seal, then look.
  local old = probe(KEYS[1], seal(KEYS[1], expire_at))
  if old.known then return old.known end
  if old.key then return {'match', old.rel, old.key, tostring(old.sim), count(KEYS[1])} end
  return {'none', count(KEYS[1])}
end

-- mode == 'decide': KEYS[1] is the current bucket; KEYS[2], when given, the previous one, probed here.
local key = KEYS[1]
local head = redis.call('HMGET', key, 's', 'm')
if head[1] then return {'sealed'} end
local best_key, best_rel, best_sim = nil, nil, -1
if KEYS[2] then
  local old = probe(KEYS[2], seal(KEYS[2], tonumber(ARGV[7])))
  if old.known then return old.known end
  best_key, best_rel, best_sim = old.key, old.rel, old.sim
elseif #prior > 0 then
  best_key, best_rel, best_sim = string.sub(prior, 2, 11), string.sub(prior, 1, 1), string.byte(prior, 12) / 255
end
local cur = probe(key, head[2])
if cur.known then return cur.known end
-- The older match wins a tie: it is the earlier original.
if cur.key and cur.sim > best_sim then best_key, best_rel, best_sim = cur.key, cur.rel, cur.sim end

if not cur.bbits then
  if KEYS[2] then hint = count(KEYS[2]) end
  local docs = math.max(hint, $min_expected)
  cur.bbits = math.min(20, math.ceil(math.log(docs * (#bands / BK) / $band_entries) / math.log(2)))
  cur.dbits = math.min(16, math.ceil(math.log(docs / $shard_records) / math.log(2)))
  redis.call('HSET', key, 'm', cur.bbits .. ' ' .. cur.dbits)
  redis.call('EXPIREAT', key, expire_at)
  cur.dshard, cur.records = doc_shard(doc, cur.dbits), ''
end

if best_key then
  -- The similarity is kept as one byte; the answer gives the kept value, so a retry's answer is the same.
  local sim = math.floor(best_sim * 255 + 0.5)
  local entry = doc .. best_rel .. best_key .. string.char(sim)
  redis.call('HSET', key, 'd' .. cur.dshard, (cur.decisions or '') .. entry)
  return {'match', best_rel, best_key, tostring(sim / 255)}
end

-- Fields grow by HSET of the old value and the new entry: Redis allocates what the value needs.
local writes = {'r' .. cur.dshard, cur.records .. record}
local index, ibits = #cur.records / RS, 24 - cur.dbits
-- A record shard past 2^(24 - doc bits) records (16x its design size at the largest doc bits) cannot be
-- pointed to: the document stays an original but no later copy will find it.
if index < bit.lshift(1, ibits) then
  local handle = string.sub(struct.pack('>I4', bit.lshift(cur.dshard, ibits) + index), 2, 4)
  local shard_mask, added = bit.lshift(1, cur.bbits) - 1, {}
  for i = 1, #band_word do
    local shard = bit.band(band_word[i], shard_mask)
    added[shard] = (added[shard] or cur.shards[shard] or '') .. band_fp[i] .. handle
  end
  for shard, entries in pairs(added) do
    writes[#writes + 1] = band_field[shard]
    writes[#writes + 1] = entries
  end
end
redis.call('HSET', key, unpack(writes))
redis.call('HINCRBY', key, 'n', 1)
return {'original'}
""")


BAND_SHARD_ENTRIES = 96
SHARD_RECORDS = 16
# A bucket with no predecessor (a new deployment) is sized for this many originals: an index that then grows
# far past it gets slower (larger shards), one that stays small pays some key overhead.
MIN_EXPECTED = 16_384


def lua_source(min_containment: float, min_shared_shingles: int) -> str:
    """The script's text with the signature layout, the shard sizes and the match thresholds written in."""
    return _LUA.substitute(
        record_size=RECORD_SIZE, band_key_size=BAND_KEY_SIZE, num_perm=NUM_PERM, lead_perm=LEAD_PERM,
        lead_shingles=LEAD_SHINGLES, min_containment=min_containment, min_shared=min_shared_shingles,
        band_entries=BAND_SHARD_ENTRIES, shard_records=SHARD_RECORDS, min_expected=MIN_EXPECTED,
    )
