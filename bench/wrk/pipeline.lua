-- wrk script: every connection keeps DEPTH requests in flight, sent together
-- (HTTP pipelining), so that the server, not the loopback round trip, is
-- what is measured. DEPTH from the environment (default 16).
--   WRK_DEPTH=16 wrk -t1 -c100 -d2s -s bench/wrk/pipeline.lua http://127.0.0.1:PORT/
local depth = tonumber(os.getenv("WRK_DEPTH") or "16")
local batch
function init(args)
  local r = {}
  for i = 1, depth do r[i] = wrk.format(nil, "/") end
  batch = table.concat(r)
end
function request()
  return batch
end
