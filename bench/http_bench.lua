-- wrk script of bench/http_bench.py: POST pre-generated bodies, each once, and check answers.
--
-- wrk ... -s bench/http_bench.lua <url> -- <bodies> <authorization> <status> <marker> [cycle]
--
--   <bodies>         a file with one request body per line (thread k of n sends lines
--                    k, k+n, k+2n...: every body is sent once in the whole run)
--   <authorization>  a file holding the Authorization header's value
--   <status>         the expected HTTP status (200 for verify, 201 for issuance)
--   <marker>         a string every good answer's body holds ('"valid":true')
--   cycle            send the bodies again from the first (hello-world only)
--
-- Without "cycle", a thread that has sent all its bodies asks GET /healthz instead and
-- stops: a body is never sent twice (a replay would be refused, and counted as a
-- failure). The last
-- line printed is "WRKJSON {...}" with the counts and wrk's own summary.

local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

local requests = {}
local count = 0
local next_index = 1
local idle_request = nil
local expected_status = 200
local marker = ""
local cycle = false
ok = 0
bad_status = 0
bad_body = 0
idle = 0
exhausted = 0

local function read_file(path)
  local fh = assert(io.open(path, "rb"))
  local data = fh:read("*a")
  fh:close()
  return data
end

function init(args)
  local bodies, auth_file = args[1], args[2]
  expected_status = tonumber(args[3])
  marker = args[4]
  cycle = args[5] == "cycle"
  local authorization = read_file(auth_file):gsub("%s+$", "")
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = authorization,
  }
  local n = #threads > 0 and #threads or 1
  local line_no = 0
  for line in io.lines(bodies) do
    if line ~= "" then
      if line_no % n == id then
        count = count + 1
        requests[count] = wrk.format("POST", nil, headers, line)
      end
      line_no = line_no + 1
    end
  end
  idle_request = wrk.format("GET", "/healthz", {}, nil)
end

function request()
  if next_index > count and cycle then
    next_index = 1
  end
  if next_index > count then
    if exhausted == 0 then
      exhausted = 1
      wrk.thread:stop()
    end
    return idle_request
  end
  local r = requests[next_index]
  next_index = next_index + 1
  return r
end

function response(status, headers, body)
  if body == '{"status":"ok"}' or body == '{"status":"ok"}\n' then
    idle = idle + 1
  elseif status ~= expected_status then
    bad_status = bad_status + 1
  elseif not string.find(body, marker, 1, true) then
    bad_body = bad_body + 1
  else
    ok = ok + 1
  end
end

function done(summary, latency, _)
  local totals = { ok = 0, bad_status = 0, bad_body = 0, idle = 0, exhausted = 0 }
  for _, thread in ipairs(threads) do
    for name, _ in pairs(totals) do
      totals[name] = totals[name] + (thread:get(name) or 0)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"ok":%d,"bad_status":%d,"bad_body":%d,"idle":%d,"exhausted_threads":%d,'
      .. '"requests":%d,"duration_us":%d,"socket_errors":%d,"p50_us":%d,"p99_us":%d}\n',
    totals.ok, totals.bad_status, totals.bad_body, totals.idle, totals.exhausted,
    summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)
  ))
end
