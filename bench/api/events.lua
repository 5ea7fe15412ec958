-- wrk -s bench/api/events.lua URL/api/v1/events?limit=50, with BENCH_TOKEN set: GET with a Bearer token.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN")
