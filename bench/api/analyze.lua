-- wrk -s bench/api/analyze.lua URL/api/v1/analyze, with BENCH_TOKEN and BENCH_IMAGE (a JPEG) set: POSTs the
-- picture as the whole body with Content-Type image/jpeg.
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "report.lua")
local f = assert(io.open(assert(os.getenv("BENCH_IMAGE"), "BENCH_IMAGE"), "rb"))
local jpeg = f:read("*a")
f:close()
wrk.method = "POST"
wrk.body = jpeg
wrk.headers["Content-Type"] = "image/jpeg"
wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("BENCH_TOKEN"), "BENCH_TOKEN")
