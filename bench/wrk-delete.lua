-- wrk script: DELETE /api/v1/admin/imagenes/<id> over distinct ids, so every
-- request deletes a row that exists. Thread t of T deletes FIRST+t, FIRST+t+T, …
--   TOKEN=$(./imagenes token --sub admin --role admin) FIRST=1 \
--   wrk -t2 -c32 -d10s --latency -s bench/wrk-delete.lua http://127.0.0.1:8080
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
  thread:set("nthreads", 0) -- fixed up in init
end
function init(args)
  n = 0
  first = tonumber(os.getenv("FIRST") or "1")
  step = tonumber(os.getenv("THREADS") or "2")
  auth = "Bearer " .. (os.getenv("TOKEN") or "")
end
request = function()
  local id = first + tid + n * step
  n = n + 1
  return wrk.format("DELETE", "/api/v1/admin/imagenes/" .. id, {["Authorization"] = auth})
end
