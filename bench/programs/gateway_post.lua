-- wrk script of the gateway benchmark: every request is POST /echo with a
-- small JSON body and an X-Client-ID, forwarded by the gateway to the
-- backend (never cached: only GETs are).
wrk.method = "POST"
wrk.path = "/echo"
wrk.body = '{"user":"u-1234","action":"click","items":[1,2,3],"device":{"type":"mobile","os":"android"}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Client-ID"] = "bench"

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "../wrk/report.lua")
