-- Creates jobs: POST /v1/jobs with a small JSON body.
--   wrk -t1 -c32 -d5s -s bench/http/post_job.lua http://127.0.0.1:8080
-- JOB_CRON overrides the schedule: scripts/bench.sh sets a yearly one, so the
-- tens of thousands of jobs a run creates do not start firing in the middle
-- of the measurement (every */5 boundary would fire all of them at once).
local cron = os.getenv("JOB_CRON") or "*/5 * * * *"
wrk.method = "POST"
wrk.path = "/v1/jobs"
wrk.body = '{"name":"bench","cron_expression":"' .. cron .. '"}'
wrk.headers["Content-Type"] = "application/json"
