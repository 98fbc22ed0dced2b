-- The request comes from the environment (BENCH_METHOD, BENCH_BODY: a JSON body); headers such
-- as Authorization come from wrk's -H. Prints wrk's summary in the `metric value` form
-- bench/run.sh collects.
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
end

done = function(summary, latency, requests)
  local seconds = summary.duration / 1e6
  io.write(string.format("rps %.2f\n", summary.requests / seconds))
  io.write(string.format("requests %d\n", summary.requests))
  io.write(string.format("p50_ms %.4f\n", latency:percentile(50) / 1000))
  io.write(string.format("p99_ms %.4f\n", latency:percentile(99) / 1000))
  io.write(string.format("non2xx %d\n", summary.errors.status))
  io.write(string.format("socket_errors %d\n",
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
