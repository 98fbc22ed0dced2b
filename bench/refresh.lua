-- POST /auth/refresh, each request spending a live refresh token and keeping the one it gets back.
-- Tokens come from the file BENCH_TOKENS (one per line), shared out among wrk's BENCH_THREADS
-- threads; a thread holds more tokens than it has connections, so no token is sent twice. Prints
-- the same summary as bench/wrk.lua.
dofile("bench/wrk.lua")

local threads = 0
function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  local count = tonumber(os.getenv("BENCH_THREADS") or "2")
  tokens = {}
  local index = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if index % count == id then
      table.insert(tokens, line)
    end
    index = index + 1
  end
end

function request()
  -- An empty pool (a refresh failed) sends a token that cannot work: it shows as a non-2xx.
  local token = table.remove(tokens, 1) or "exhausted"
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json" },
    '{"refresh_token":"' .. token .. '"}')
end

function response(status, headers, body)
  local token = body:match('"refresh_token":"([^"]+)"')
  if token then
    table.insert(tokens, token)
  end
end
