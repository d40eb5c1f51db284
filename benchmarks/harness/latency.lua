-- wrk's done() hook: print the figures the harness parses, one "BENCH key=value" per line.
-- wrk's own summary rounds percentiles to two digits; these are whole microseconds.
done = function(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d\n",
    summary.requests, summary.duration, summary.bytes))
  io.write(string.format(
    "BENCH errors_connect=%d errors_read=%d errors_write=%d errors_status=%d errors_timeout=%d\n",
    errors.connect, errors.read, errors.write, errors.status, errors.timeout))
  io.write(string.format(
    "BENCH p50_us=%d p90_us=%d p99_us=%d p999_us=%d max_us=%d mean_us=%d\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
