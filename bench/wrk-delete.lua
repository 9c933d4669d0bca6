-- wrk script: DELETE /api/v1/admin/imagenes/<id> over distinct ids, so every
-- request deletes a row that exists. Thread t of THREADS deletes FIRST+t,
-- FIRST+t+THREADS, … and stops after PER answers (0: run for -d), so a run
-- deletes a known number of seeded rows instead of running into 404s.
--   TOKEN=$(./imagenes token --sub admin --role admin) FIRST=1 THREADS=1 PER=10000 \
--   wrk -t1 -c32 -d60s --latency -s bench/wrk-delete.lua http://127.0.0.1:8080
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  n = 0
  answered = 0
  first = tonumber(os.getenv("FIRST") or "1")
  step = tonumber(os.getenv("THREADS") or "1")
  per = tonumber(os.getenv("PER") or "0")
  auth = "Bearer " .. (os.getenv("TOKEN") or "")
end
request = function()
  local id = first + tid + n * step
  n = n + 1
  return wrk.format("DELETE", "/api/v1/admin/imagenes/" .. id, {["Authorization"] = auth})
end
response = function(status, headers, body)
  answered = answered + 1
  if per > 0 and answered >= per then
    wrk.thread:stop()
  end
end
