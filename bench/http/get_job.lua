-- Reads one job: GET /v1/jobs/<id>. The id is the first script argument or,
-- failing that, the JOB_ID environment variable:
--   wrk -t1 -c32 -d5s -s bench/http/get_job.lua http://127.0.0.1:8080 -- <id>
--   JOB_ID=<id> wrk -t1 -c32 -d5s -s bench/http/get_job.lua http://127.0.0.1:8080

-- Runs once per wrk thread, before the request is built, so the request
-- stays a pre-formatted constant (no Lua work per request).
function init(args)
  local id = args[1] or os.getenv("JOB_ID")
  if id == nil or id == "" then
    io.stderr:write("get_job.lua: pass the job id after -- or in JOB_ID\n")
    os.exit(2)
  end
  wrk.path = "/v1/jobs/" .. id
end
