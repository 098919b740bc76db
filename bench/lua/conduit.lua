-- Request generators for the wrk scenarios of bench/run.py.
--
-- Environment:
--   BENCH_SCENARIO  which generator to use (see `builders` below)
--   BENCH_DATA_DIR  folder with tokens.txt, slugs.txt, usernames.txt, emails.txt
--   BENCH_PASSWORD  the password every seeded user shares (login scenario)
--   BENCH_DELAY_MS  optional pause between a connection's requests
-- Each wrk thread rotates over the lists from its own offset; done() prints one
-- line "BENCH_JSON {...}" with the counts and latency percentiles (microseconds).

local scenario = os.getenv("BENCH_SCENARIO") or "plain"
-- BENCH_DELAY_MS: pause of each connection between requests (the soak uses
-- it to hold a rate below the peak).
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
local data_dir = os.getenv("BENCH_DATA_DIR") or "."
local password = os.getenv("BENCH_PASSWORD") or ""

local function lines(name)
  local out = {}
  local f = io.open(data_dir .. "/" .. name, "r")
  if not f then return out end
  for line in f:lines() do
    if line ~= "" then out[#out + 1] = line end
  end
  f:close()
  return out
end

-- setup() runs in the main Lua state once per thread, before the threads start.
local next_thread = 0
function setup(thread)
  thread:set("thread_id", next_thread)
  next_thread = next_thread + 1
end

local tokens, slugs, usernames, emails
local n = 0
local started = 0
local article_body = string.rep("Benchmark body text. ", 100)  -- ~2 KB

function init(args)
  tokens = lines("tokens.txt")
  slugs = lines("slugs.txt")
  usernames = lines("usernames.txt")
  emails = lines("emails.txt")
  local id = thread_id or 0
  n = id * 7919
  started = os.time()
  math.randomseed(started * 100 + id)
end

local function nth(list, i) return list[(i % #list) + 1] end

local function auth(token)
  return { ["Authorization"] = "Token " .. token }
end

local function json_auth(token)
  return { ["Authorization"] = "Token " .. token, ["Content-Type"] = "application/json" }
end

local function create_request(token)
  local title = string.format("Bench t%d s%d n%d", thread_id or 0, started, n)
  local body = string.format(
    '{"article":{"title":"%s","description":"Created by the benchmark","body":"%s","tagList":["benchmark","load"]}}',
    title, article_body)
  return wrk.format("POST", "/api/articles", json_auth(token), body)
end

local function get_signed_in(path, token)
  return wrk.format("GET", path, auth(token))
end

local builders = {}

builders.list_auth = function()
  return get_signed_in("/api/articles?limit=20", nth(tokens, n))
end

builders.feed = function()
  return get_signed_in("/api/articles/feed?limit=20", nth(tokens, n))
end

builders.article = function()
  return wrk.format("GET", "/api/articles/" .. nth(slugs, n))
end

builders.profile = function()
  return get_signed_in("/api/profiles/" .. nth(usernames, n), nth(tokens, n * 31 + 7))
end

builders.login = function()
  local body = string.format('{"user":{"email":"%s","password":"%s"}}', nth(emails, n), password)
  return wrk.format("POST", "/api/users/login", { ["Content-Type"] = "application/json" }, body)
end

builders.create = function()
  return create_request(nth(tokens, n))
end

-- 80% reads (list, feed, single article; signed in), 15% favorite or
-- unfavorite, 5% create.
builders.mix = function()
  local token = tokens[math.random(#tokens)]
  local r = math.random(100)
  if r <= 80 then
    local kind = r % 3
    if kind == 0 then return get_signed_in("/api/articles?limit=20", token) end
    if kind == 1 then return get_signed_in("/api/articles/feed?limit=20", token) end
    return get_signed_in("/api/articles/" .. slugs[math.random(#slugs)], token)
  elseif r <= 95 then
    local method = (r % 2 == 0) and "POST" or "DELETE"
    return wrk.format(method, "/api/articles/" .. slugs[math.random(#slugs)] .. "/favorite", auth(token))
  end
  return create_request(token)
end

local function gcd(a, b)
  while b ~= 0 do a, b = b, a % b end
  return a
end
local function lcm(a, b) return math.floor(a / gcd(a, b)) * b end

-- The read scenarios repeat with the period of their lists: their requests are
-- built once in init (below), so that wrk, which shares the cores with the
-- server, does not format a request for every one it sends.
local periods = {
  list_auth = function() return #tokens end,
  feed = function() return #tokens end,
  article = function() return #slugs end,
  profile = function() return lcm(#usernames, #tokens) end,
}

local builder = builders[scenario]
if builder then
  request = function()
    n = n + 1
    return builder()
  end
end

local build_all = init
if builder and periods[scenario] then
  init = function(args)
    build_all(args)
    local period = math.max(periods[scenario](), 1)
    local built, first = {}, n
    for i = 1, period do
      n = first + i
      built[i] = builder()
    end
    n = first
    -- The same sequence as building each request when it is sent.
    request = function()
      n = n + 1
      return built[(n - first - 1) % period + 1]
    end
  end
end
-- Scenarios without a builder ("plain") send wrk's default GET of the URL given.

if delay_ms then
  delay = function() return delay_ms end
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d,' ..
    '"max":%d,"mean":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9), latency.max, latency.mean))
end
