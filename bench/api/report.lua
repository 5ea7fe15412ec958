-- Shared by events.lua and analyze.lua: at the end, one JSON line (prefixed "WRKJSON ") with what table.mjs needs.
-- Latencies are in microseconds; status errors are non-2xx/3xx replies.
function done(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
		'WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"rps":%.2f,"p50_us":%d,"p99_us":%d,"max_us":%d,' ..
		'"mean_us":%.1f,"err_connect":%d,"err_read":%d,"err_write":%d,"err_status":%d,"err_timeout":%d}\n',
		summary.requests, summary.duration, summary.bytes, summary.requests / (summary.duration / 1e6),
		latency:percentile(50), latency:percentile(99), latency.max, latency.mean,
		e.connect, e.read, e.write, e.status, e.timeout))
end
