-- Creates jobs: POST /v1/jobs with a small JSON body.
--   wrk -t1 -c32 -d5s -s bench/http/post_job.lua http://127.0.0.1:8080
wrk.method = "POST"
wrk.path = "/v1/jobs"
wrk.body = '{"name":"bench","cron_expression":"*/5 * * * *"}'
wrk.headers["Content-Type"] = "application/json"
