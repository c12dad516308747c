-- One wrk script for every scenario of bench/run.py, configured through the
-- environment (wrk passes it through unchanged):
--
--   BENCH_METHOD    GET (default) or POST
--   BENCH_BODY      request body; "{}" is replaced by the current pool value
--   BENCH_CT        Content-Type header
--   BENCH_AUTH      Authorization header; "{}" is replaced by the current pool value
--   BENCH_COOKIE    Cookie header
--   BENCH_POOL      file with one value per line; each request takes the next one
--   BENCH_CYCLE     "1": start the pool over when used up; otherwise the run ends
--                   there (wrk is interrupted, so its req/s covers the real time)
--   BENCH_THREADS   wrk -t value: thread i uses lines i, i+n, i+2n... of the pool
--   BENCH_FIELDS    comma-separated JSON string fields to capture from 2xx bodies
--   BENCH_HEADER, BENCH_PATTERN   capture PATTERN (a Lua pattern with captures)
--                   from response header HEADER of 2xx/3xx responses
--   BENCH_OUT       captured values go to BENCH_OUT.<thread>, one line per response,
--                   several captures separated by a space
--   BENCH_LIMIT     end the run after this many captured lines
--   BENCH_DELAY_MS  think time per connection between requests (a "modest rate")
--
-- Without BENCH_POOL, BENCH_OUT and BENCH_DELAY_MS no Lua runs per request: wrk
-- sends one pre-built request, as fast as with no script at all.

local env = os.getenv
local method = env("BENCH_METHOD") or "GET"
local body = env("BENCH_BODY")
local auth = env("BENCH_AUTH")
local pool_file = env("BENCH_POOL")
local cycle = env("BENCH_CYCLE") == "1"
local threads = tonumber(env("BENCH_THREADS") or "1")
local fields = env("BENCH_FIELDS")
local capture_header = env("BENCH_HEADER")
local capture_pattern = env("BENCH_PATTERN")
local out_file = env("BENCH_OUT")
local limit = tonumber(env("BENCH_LIMIT") or "0")
local delay_ms = tonumber(env("BENCH_DELAY_MS") or "0")

wrk.method = method
if body then wrk.body = body end
if env("BENCH_CT") then wrk.headers["Content-Type"] = env("BENCH_CT") end
if auth then wrk.headers["Authorization"] = auth end
if env("BENCH_COOKIE") then wrk.headers["Cookie"] = env("BENCH_COOKIE") end

local counter = 0
function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
end

local pool, idx, out, captured, ended = {}, 0, nil, 0, false
local patterns = {}

-- End the whole run now: this thread stops, and SIGINT makes wrk's main thread
-- stop sleeping, so the reported duration and req/s are those of the real run.
local function end_run()
  if ended then return end
  ended = true
  local stat = io.open("/proc/self/stat")
  local pid = stat and stat:read("*n")
  if stat then stat:close() end
  -- In the background: system() ignores SIGINT in wrk until the shell returns.
  if pid then os.execute("(sleep 0.01; kill -INT " .. pid .. ") &") end
  wrk.thread:stop()
end

function init(args)
  local me = thread_index or 0
  if pool_file then
    local k = 0
    for line in io.lines(pool_file) do
      if line ~= "" then
        if k % threads == me then pool[#pool + 1] = line end
        k = k + 1
      end
    end
  end
  if out_file then
    out = io.open(out_file .. "." .. me, "w")
    out:setvbuf("full")
  end
  if fields then
    for name in fields:gmatch("[^,]+") do
      patterns[#patterns + 1] = '"' .. name .. '"%s*:%s*"([^"]+)"'
    end
  end
end

local function fill(template, value)
  if template == nil then return nil end
  return (template:gsub("{}", function() return value end))
end

if pool_file then
  function request()
    idx = idx + 1
    if idx > #pool then
      if cycle and #pool > 0 then
        idx = 1
      else
        end_run()
        -- Never answered before the run ends; a 404 if it ever were.
        return wrk.format("GET", "/__bench_pool_exhausted__")
      end
    end
    local value = pool[idx]
    local headers = {}
    for k, v in pairs(wrk.headers) do headers[k] = v end
    if auth then headers["Authorization"] = fill(auth, value) end
    return wrk.format(method, nil, headers, fill(body, value))
  end
end

if out_file then
  function response(status, headers, resp_body)
    if status >= 400 then return end
    local line
    if capture_header then
      -- Header names arrive as the server wrote them: granian writes lower case.
      local h = headers[capture_header]
      if not h then
        local wanted = capture_header:lower()
        for k, v in pairs(headers) do
          if k:lower() == wanted then h = v break end
        end
      end
      if h then
        local caps = { h:match(capture_pattern) }
        if #caps > 0 then line = table.concat(caps, " ") end
      end
    elseif #patterns > 0 and status < 300 then
      local caps = {}
      for i, p in ipairs(patterns) do caps[i] = resp_body:match(p) or "-" end
      line = table.concat(caps, " ")
    end
    if line then
      out:write(line, "\n")
      captured = captured + 1
      if limit > 0 and captured >= limit then
        out:flush()
        end_run()
      end
    end
  end
end

if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end
