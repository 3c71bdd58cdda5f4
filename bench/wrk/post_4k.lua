-- wrk script for the "4 KiB JSON POST echo" case: every request is POST
-- /echo with the same 4,096-byte JSON body (the servers echo it back).
--   wrk -t1 -c100 -d2s -s bench/wrk/post_4k.lua http://127.0.0.1:PORT/
local items = {}
for i = 1, 64 do
  items[#items + 1] = string.format('{"id":%d,"name":"item-%05d","tags":["a","b"],"v":%d}', i, i, i * 7)
end
local body = '[' .. table.concat(items, ',') .. ']'
body = body .. string.rep(' ', 4096 - #body) -- exactly 4 KiB
wrk.method = "POST"
wrk.path = "/echo"
wrk.body = body
wrk.headers["Content-Type"] = "application/json"

-- the suite's done() hook (exact counts, p99.9), from beside this script
dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "report.lua")
