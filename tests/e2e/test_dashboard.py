"""The web dashboard (docs/dashboard.md) in a real headless Chromium, against
the real `dts server`: the form, the jobs table, the actions, the run history
and output viewer, workers and queue, live updates and the token prompt.

Needs Debian's chromium, chromium-driver and python3-selenium
(scripts/install-deps.sh). Every wait has a deadline and polls for a state;
nothing sleeps for a fixed time, and nothing depends on speed beyond the
deadlines, which are generous enough for the ASan build."""

import json
import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import Server, create_job, get_job, list_runs, wait_for

try:
    from selenium import webdriver
except ImportError:  # a non-Debian python3 (pyenv): use Debian's package
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from selenium import webdriver
    except ImportError:
        webdriver = None

if webdriver is not None:
    from selenium.common.exceptions import (NoSuchElementException,
                                            StaleElementReferenceException,
                                            WebDriverException)
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

CHROMIUM = os.environ.get("DTS_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("DTS_CHROMEDRIVER", shutil.which("chromedriver") or "/usr/bin/chromedriver")
WAIT = 30          # seconds for anything the UI should show (ASan builds are slow)
LIVE_WAIT = 10     # the page polls every 2 s: a new run shows within this
NEVER = "0 0 1 1 *"
TOKEN = "dashboard-test-token-0123456789"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture(scope="module")
def browser():
    if webdriver is None:
        pytest.fail("python3-selenium is missing: run scripts/install-deps.sh", pytrace=False)
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(path):
            pytest.fail(f"{path} is missing: run scripts/install-deps.sh (chromium, chromium-driver)",
                        pytrace=False)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--disable-extensions", "--no-first-run",
                "--disable-background-networking", "--disable-sync"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def page(browser):
    """The browser, checked after the test for script errors and CSP
    violations in the console (refused API calls, 4xx, are expected)."""
    browser.get_log("browser")  # drop what earlier tests left
    yield browser
    problems = [e["message"] for e in browser.get_log("browser")
                if e["level"] == "SEVERE" and "Failed to load resource" not in e["message"]]
    assert not problems, problems


def until(driver, condition, message, timeout=WAIT):
    """Polls condition() (re-finding elements each time, so a redraw is not
    an error) until it returns something truthy, and returns that."""
    def check(_):
        try:
            return condition()
        except (NoSuchElementException, StaleElementReferenceException):
            return None
    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(check, message)


def find(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css)


def finds(driver, css):
    return driver.find_elements(By.CSS_SELECTOR, css)


def text_of(driver, css):
    return find(driver, css).text


def click(driver, css):
    """Clicks an element, re-finding it if a redraw replaced it."""
    def attempt():
        find(driver, css).click()
        return True
    until(driver, attempt, f"clicking {css}")


def fill(driver, css, value):
    """Replaces a field's text by typing, so the page sees input events
    (clear() alone fires none)."""
    el = find(driver, css)
    el.clear()
    el.send_keys(value if value else " " + Keys.BACKSPACE)


def open_page(driver, server, route):
    driver.get(f"{server.base_url}/#{route}")
    until(driver, lambda: driver.execute_script("return document.readyState") == "complete", "page load")


def row_css(job_id):
    return f'#jobs-table tr[data-job-id="{job_id}"]'


def visible_job_ids(driver):
    return [tr.get_attribute("data-job-id") for tr in finds(driver, "#jobs-table tbody tr[data-job-id]")]


# ---------------------------------------------------------------- serving


def raw_get(server, path, headers=None):
    req = urllib.request.Request(server.base_url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_dashboard_is_served_with_types_caching_and_a_strict_policy(server):
    status, headers, body = raw_get(server, "/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    csp = headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp, csp
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-cache"
    assert b"<script src=\"/ui/app.js\"" in body and b"<script>" not in body
    etag = headers["ETag"]
    status, _, body = raw_get(server, "/", {"If-None-Match": etag})
    assert status == 304 and body == b""

    status, headers, _ = raw_get(server, "/ui/app.js")
    assert status == 200 and headers["Content-Type"] == "text/javascript; charset=utf-8"
    status, headers, _ = raw_get(server, "/ui/style.css")
    assert status == 200 and headers["Content-Type"] == "text/css; charset=utf-8"
    for path in ("/ui/nope.js", "/ui/index.html", "/ui", "/index.html", "/dashboard"):
        status, _, body = raw_get(server, path)
        assert status == 404, (path, body)
    # The API is unchanged beside it.
    code, body = server.request("GET", "/v1/jobs")
    assert code == 200 and body["jobs"] == [], body
    code, body = server.request("POST", "/")
    assert code == 405, body


def test_cron_next_route(server):
    code, body = server.request(
        "GET", "/v1/cron/next?expr=30%202%20*%20*%20*&tz=America/New_York&count=3&from=2026-03-07T00:00:00Z")
    assert code == 200, body
    assert body["times"] == ["2026-03-07T07:30:00Z", "2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"], body
    assert body["local_times"] == ["2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00",
                                   "2026-03-09T02:30:00-04:00"], body
    assert body["timezone"] == "America/New_York", body
    code, body = server.request("GET", "/v1/cron/next?expr=@hourly")
    assert code == 200 and len(body["times"]) == 5, body  # default count 5, tz UTC
    code, body = server.request(
        "GET", "/v1/cron/next?expr=@every%2090s&from=2026-01-01T00:00:10Z&anchor=2026-01-01T00:00:00Z&count=2")
    assert code == 200 and body["times"] == ["2026-01-01T00:01:30Z", "2026-01-01T00:03:00Z"], body
    for query, field in (("expr=61%20*%20*%20*%20*", "expr"), ("tz=UTC", "expr"),
                         ("expr=@daily&tz=Mars/Base", "tz"), ("expr=@daily&count=0", "count"),
                         ("expr=@daily&count=101", "count"), ("expr=@daily&count=x", "count"),
                         ("expr=@daily&from=yesterday", "from"), ("expr=0%200%2030%202%20*", "expr"),
                         ("expr=@daily&bogus=1", "bogus")):
        code, body = server.request("GET", f"/v1/cron/next?{query}")
        assert code == 400 and body["code"] == 3, (query, body)
        assert body["message"].startswith(f"{field}: "), (query, body)
    code, body = server.request("GET", "/v1/cron/next?expr=@daily&count=100")
    assert code == 200 and len(body["times"]) == 100, body


# ---------------------------------------------------------------- the form


def test_create_a_job_through_the_form(server, page):
    open_page(page, server, "/jobs")
    click(page, "#new-job")
    until(page, lambda: text_of(page, "#form-title") == "New job", "the form")
    fill(page, "#f-name", "nightly-report")
    fill(page, "#f-description", "made in the browser")

    # A bad expression is refused live, against its field.
    fill(page, "#f-cron_expression", "61 * * * *")
    error = until(page, lambda: text_of(page, "#err-cron_expression"), "the cron error")
    assert error.startswith("cron_expression: ") and "61" in error, error
    assert find(page, "#f-cron_expression").get_attribute("aria-invalid") == "true"
    assert finds(page, "#cron-preview li") == []

    # A good one shows its next 5 fire times, in the job's zone.
    fill(page, "#f-cron_expression", "30 2 * * *")
    fill(page, "#f-timezone", "America/New_York")
    items = until(page, lambda: [li.text for li in finds(page, "#cron-preview li")] or None, "5 fire times")
    assert len(items) == 5, items
    for item in items:
        assert re.fullmatch(r"\d{4}-\d\d-\d\d 0[23]:[03]0:00-0[45]:00", item), items
    assert text_of(page, "#err-cron_expression") == ""
    assert find(page, "#f-cron_expression").get_attribute("aria-invalid") is None
    # An unknown zone is an error against the zone field.
    fill(page, "#f-timezone", "Mars/Base")
    error = until(page, lambda: text_of(page, "#err-timezone"), "the zone error")
    assert error.startswith("timezone: ") and "Mars/Base" in error, error
    fill(page, "#f-timezone", "America/New_York")
    until(page, lambda: len(finds(page, "#cron-preview li")) == 5, "fire times again")

    # Every other field.
    Select(find(page, "#f-status")).select_by_value("PAUSED")
    click(page, "#f-executor-kind-command")
    click(page, "#f-command-mode-shell")
    fill(page, "#f-executor-command-script", "echo report-$((6*7))")
    fill(page, "#f-executor-command-env", "MODE=full")
    fill(page, "#f-resources-cpu", "200")
    fill(page, "#f-resources-memory", "32")
    fill(page, "#f-constraints", "zone=z")
    Select(find(page, "#f-overlap_policy")).select_by_value("FORBID")
    Select(find(page, "#f-misfire_policy")).select_by_value("SKIP")
    fill(page, "#f-starting_deadline", "30")
    fill(page, "#f-timeout", "60")
    fill(page, "#f-max_retries", "2")
    fill(page, "#f-retry_backoff-initial_seconds", "5")
    fill(page, "#f-retry_backoff-max_seconds", "50")
    fill(page, "#f-retry_backoff-multiplier", "1.5")
    fill(page, "#f-metadata", "team=data\nowner=ops")

    # The server's 400 ("priority: ...") shows against the field, and
    # nothing is created.
    fill(page, "#f-priority", "5000")
    click(page, "#job-submit")
    error = until(page, lambda: text_of(page, "#err-priority"), "the priority error")
    assert error.startswith("priority: "), error
    assert find(page, "#f-priority").get_attribute("aria-invalid") == "true"
    assert server.request("GET", "/v1/jobs")[1]["total"] == 0

    fill(page, "#f-priority", "7")
    click(page, "#job-submit")
    until(page, lambda: re.fullmatch(r"#/jobs/" + UUID_RE, page.execute_script("return location.hash")),
          "the new job's page")
    job_id = page.execute_script("return location.hash").split("/")[-1]
    until(page, lambda: "nightly-report" in text_of(page, "#job-title"), "the job's title")

    job = get_job(server, job_id)
    assert job["name"] == "nightly-report" and job["description"] == "made in the browser"
    assert job["cron_expression"] == "30 2 * * *" and job["timezone"] == "America/New_York"
    assert job["status"] == "PAUSED" and job["priority"] == 7 and job["max_retries"] == 2
    assert job["timeout"] == 60 and job["starting_deadline"] == 30
    assert job["executor"] == {"command": {"argv": ["echo report-$((6*7))"], "shell": True,
                                           "env": {"MODE": "full"}, "working_dir": ""}}, job
    assert job["resources"] == {"cpu": 200, "memory": 32, "storage": 0}, job
    assert job["constraints"] == {"zone": "z"} and job["metadata"] == {"team": "data", "owner": "ops"}
    assert job["overlap_policy"] == "FORBID" and job["misfire_policy"] == "SKIP"
    assert job["retry_backoff"] == {"initial_seconds": 5, "max_seconds": 50, "multiplier": 1.5}, job

    # The detail page shows the definition and the next 5 fires in the zone.
    definition = text_of(page, "#job-definition")
    assert "30 2 * * *" in definition and "America/New_York" in definition and "FORBID" in definition
    fires = until(page, lambda: [li.text for li in finds(page, "#job-fires li")] or None, "the job's fires")
    assert len(fires) == 5 and all(re.search(r" 0[23]:[03]0:00-0[45]:00$", f) for f in fires), fires


# ---------------------------------------------------------------- the jobs table


def test_jobs_table_filter_search_and_actions(server, page):
    alpha1 = create_job(server, name="alpha-one", cron_expression="*/5 * * * *", timezone="Europe/Berlin")
    alpha2 = create_job(server, name="alpha-two", cron_expression="@hourly", status="paused")
    beta = create_job(server, name="beta", cron_expression=NEVER)
    open_page(page, server, "/jobs")
    until(page, lambda: sorted(visible_job_ids(page)) == sorted([alpha1, alpha2, beta]), "three rows")

    # Name, status, schedule with the next 3 fires in the job's zone, next run.
    row = find(page, row_css(alpha1))
    assert "alpha-one" in row.text and "ACTIVE" in row.text and "*/5 * * * *" in row.text
    fires = [li.text for li in row.find_elements(By.CSS_SELECTOR, ".job-schedule li")]
    assert len(fires) == 3 and all(re.search(r"[+-]0[12]:00$", f) for f in fires), fires
    assert find(page, row_css(alpha1) + " .job-next time").get_attribute("datetime") == \
        get_job(server, alpha1)["next_run"]
    assert "never run" in text_of(page, row_css(alpha1) + " .job-last")
    assert "—" in text_of(page, row_css(alpha2) + " .job-next")  # paused: no next run

    fill(page, "#job-search", "ALPHA")
    until(page, lambda: sorted(visible_job_ids(page)) == sorted([alpha1, alpha2]), "search by name")
    Select(find(page, "#status-filter")).select_by_value("PAUSED")
    until(page, lambda: visible_job_ids(page) == [alpha2], "status filter")
    fill(page, "#job-search", "beta")
    until(page, lambda: "No job matches" in text_of(page, "#jobs-table tbody"), "nothing matches")
    Select(find(page, "#status-filter")).select_by_value("")
    until(page, lambda: visible_job_ids(page) == [beta], "beta alone")

    # Pause, resume, trigger.
    click(page, row_css(beta) + ' [data-action="pause"]')
    until(page, lambda: get_job(server, beta)["status"] == "PAUSED", "paused in the API")
    until(page, lambda: "PAUSED" in text_of(page, row_css(beta) + " .job-status"), "paused in the table")
    click(page, row_css(beta) + ' [data-action="resume"]')
    until(page, lambda: get_job(server, beta)["status"] == "ACTIVE", "resumed in the API")
    until(page, lambda: "ACTIVE" in text_of(page, row_css(beta) + " .job-status"), "resumed in the table")
    click(page, row_css(beta) + ' [data-action="run"]')
    runs = until(page, lambda: list_runs(server, job_id=beta), "the manual run")
    assert len(runs) == 1 and runs[0]["trigger"] == "MANUAL", runs
    until(page, lambda: "Triggered" in text_of(page, "#flash"), "the trigger's message")

    # Delete asks first; Cancel keeps the job.
    click(page, row_css(beta) + ' [data-action="delete"]')
    until(page, lambda: find(page, "#confirm-dialog").get_attribute("open") is not None, "the confirmation")
    assert "beta" in text_of(page, "#confirm-text")
    click(page, "#confirm-cancel")
    until(page, lambda: find(page, "#confirm-dialog").get_attribute("open") is None, "dialog closed")
    assert server.request("GET", f"/v1/jobs/{beta}")[0] == 200
    click(page, row_css(beta) + ' [data-action="delete"]')
    until(page, lambda: find(page, "#confirm-dialog").get_attribute("open") is not None, "the confirmation")
    click(page, "#confirm-ok")
    until(page, lambda: server.request("GET", f"/v1/jobs/{beta}")[0] == 404, "deleted in the API")
    until(page, lambda: beta not in visible_job_ids(page), "row gone")

    # Edit: the form comes filled in; a change is saved.
    fill(page, "#job-search", "")
    click(page, row_css(alpha1) + ' [data-action="edit"]')
    until(page, lambda: find(page, "#f-name").get_attribute("value") == "alpha-one", "the filled form")
    assert find(page, "#f-timezone").get_attribute("value") == "Europe/Berlin"
    fill(page, "#f-description", "edited")
    fill(page, "#f-cron_expression", "*/10 * * * *")
    click(page, "#job-submit")
    until(page, lambda: page.execute_script("return location.hash") == f"#/jobs/{alpha1}", "back on the job")
    job = get_job(server, alpha1)
    assert job["description"] == "edited" and job["cron_expression"] == "*/10 * * * *", job
    assert job["timezone"] == "Europe/Berlin" and job["name"] == "alpha-one", job


# ---------------------------------------------------------------- runs and output


def test_run_history_output_viewer_and_live_updates(server, page):
    job_id = create_job(server, name="noisy", cron_expression=NEVER,
                        executor={"command": {"argv": ["echo out-$((40+2)); echo oops >&2; exit 3"],
                                              "shell": True}})
    open_page(page, server, f"/jobs/{job_id}")
    until(page, lambda: "No runs yet" in text_of(page, "#runs-table tbody"), "an empty history")
    page.execute_script("window.__noReload = 'still here'")

    # A run started from the page.
    click(page, '.page-head [data-action="run"]')
    [first] = until(page, lambda: list_runs(server, job_id=job_id), "the first run")
    first_row = f'#runs-table tr[data-run-id="{first["id"]}"]'
    until(page, lambda: "FAILED" in text_of(page, first_row + " .run-status"), "the run failed")
    assert "status-FAILED" in find(page, first_row + " .badge").get_attribute("class")
    cells = text_of(page, first_row)
    assert "MANUAL" in cells and "local" in cells, cells
    assert text_of(page, first_row + " .run-attempt") == "1"

    click(page, first_row + ' [data-action="output"]')
    until(page, lambda: "out-42" in text_of(page, "#output-result"), "the captured output")
    assert "oops" in text_of(page, "#output-result")
    assert text_of(page, "#output-exit") == "3"
    assert text_of(page, "#output-error") != "" and "no error" not in text_of(page, "#output-error")

    # A run triggered through the API appears by itself, without a reload.
    code, body = server.request("POST", f"/v1/jobs/{job_id}/run")
    assert code == 200, body
    second_row = f'#runs-table tr[data-run-id="{body["execution_id"]}"]'
    until(page, lambda: finds(page, second_row), "the API-triggered run", timeout=LIVE_WAIT)
    until(page, lambda: "FAILED" in text_of(page, second_row + " .run-status"), "its outcome")
    assert page.execute_script("return window.__noReload") == "still here"
    # Newest first.
    ids = [tr.get_attribute("data-run-id") for tr in finds(page, "#runs-table tbody tr[data-run-id]")]
    assert ids == [body["execution_id"], first["id"]], ids


def test_jobs_table_updates_live(server, page):
    open_page(page, server, "/jobs")
    until(page, lambda: "No jobs" in text_of(page, "#jobs-table tbody"), "an empty table")
    page.execute_script("window.__noReload = 'still here'")
    # Fires every second, so its last run and status change under the page.
    job_id = create_job(server, name="made-elsewhere", cron_expression="* * * * * *")
    until(page, lambda: visible_job_ids(page) == [job_id], "the new job", timeout=LIVE_WAIT)
    last = until(page, lambda: find(page, row_css(job_id) + " .job-last time").get_attribute("datetime"),
                 "its last run", timeout=LIVE_WAIT + WAIT)
    assert "COMPLETED" in text_of(page, row_css(job_id) + " .job-last .badge")
    until(page, lambda: find(page, row_css(job_id) + " .job-last time").get_attribute("datetime") != last,
          "a later run", timeout=LIVE_WAIT + WAIT)
    code, _ = server.request("POST", f"/v1/jobs/{job_id}/pause")
    assert code == 200
    until(page, lambda: "PAUSED" in text_of(page, row_css(job_id) + " .job-status"), "paused, live",
          timeout=LIVE_WAIT)
    assert page.execute_script("return window.__noReload") == "still here"


# ---------------------------------------------------------------- workers and queue


def test_workers_bars_and_queue(data_dir, page):
    server = Server(data_dir, ["--worker-cpu", "2000", "--worker-label", "zone=z", "--worker-label", "disk=ssd"])
    try:
        big = create_job(server, name="big", cron_expression=NEVER, resources={"cpu": 1500, "memory": 64},
                         executor={"command": {"argv": ["sleep", "60"]}})
        small = create_job(server, name="waits", cron_expression=NEVER, resources={"cpu": 1000, "memory": 64},
                           executor={"command": {"argv": ["true"]}})
        code, body = server.request("POST", f"/v1/jobs/{big}/run")
        assert code == 200, body
        running = body["execution_id"]
        wait_for(lambda: server.request("GET", f"/v1/executions/{running}")[1]["status"] == "RUNNING",
                 message="the big run to start")
        code, body = server.request("POST", f"/v1/jobs/{small}/run")
        assert code == 200, body
        queued = body["execution_id"]
        wait_for(lambda: server.request("GET", f"/v1/executions/{queued}")[1]["status"] == "QUEUED",
                 message="the small run to queue")

        open_page(page, server, "/workers")
        cpu = '.worker[data-worker-id="local"] .bar-row[data-dimension="cpu"] meter'
        until(page, lambda: find(page, cpu).get_attribute("data-allocated") == "1500", "cpu allocated")
        assert find(page, cpu).get_attribute("data-capacity") == "2000"
        assert float(find(page, cpu).get_attribute("value")) == 1500
        assert float(find(page, cpu).get_attribute("max")) == 2000
        assert "1500m of 2000m" in text_of(page, '.worker[data-worker-id="local"] .bar-row[data-dimension="cpu"]')
        for dim in ("memory", "storage"):
            meter = find(page, f'.worker[data-worker-id="local"] .bar-row[data-dimension="{dim}"] meter')
            assert meter.get_attribute("data-capacity") != "0", dim
        assert find(page, '.worker[data-worker-id="local"] .bar-row[data-dimension="memory"] meter') \
            .get_attribute("data-allocated") == "64"
        worker = text_of(page, '.worker[data-worker-id="local"]')
        assert "READY" in worker and "zone=z" in worker and "disk=ssd" in worker, worker
        assert text_of(page, ".worker .running-count") == "1"
        assert running in text_of(page, ".worker-running")
        assert "memory: " in text_of(page, ".worker-enforcement")

        click(page, 'a[data-nav="queue"]')
        row = f'#queue-table tr[data-run-id="{queued}"]'
        until(page, lambda: finds(page, row), "the queued run")
        code, api_queue = server.request("GET", "/v1/scheduler/queue")
        [entry] = api_queue["runs"]
        assert text_of(page, row + " .queue-reason") == entry["reason"] != ""
        assert "waits" in text_of(page, row)
        assert text_of(page, "#queue-total") == "1 waiting"

        # When the big run is cancelled the queue empties by itself.
        code, _ = server.request("DELETE", f"/v1/jobs/{big}?cancel_running=true")
        assert code == 200
        until(page, lambda: "Nothing is waiting" in text_of(page, "#queue-table tbody"), "an empty queue",
              timeout=LIVE_WAIT + WAIT)
    finally:
        server.stop()


# ---------------------------------------------------------------- auth


def test_token_prompt_when_auth_is_on(data_dir, page):
    server = Server(data_dir, env={"DTS_API_TOKEN": TOKEN})
    try:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        code, body = server.request("POST", "/v1/jobs", {"name": "secret", "cron_expression": NEVER},
                                    headers=auth)
        assert code == 200, body
        job_id = body["job_id"]

        open_page(page, server, "/jobs")
        until(page, lambda: find(page, "#token-dialog").get_attribute("open") is not None, "the token prompt")
        assert visible_job_ids(page) == []
        fill(page, "#token-input", "wrong-token-wrong-token")
        click(page, "#token-submit")
        until(page, lambda: "refused" in text_of(page, "#token-error"), "the refusal")
        assert find(page, "#token-dialog").get_attribute("open") is not None

        fill(page, "#token-input", TOKEN)
        click(page, "#token-submit")
        until(page, lambda: visible_job_ids(page) == [job_id], "the jobs, with the token")
        assert find(page, "#token-dialog").get_attribute("open") is None
        assert page.execute_script("return sessionStorage.getItem('dts.apiToken')") == TOKEN

        # A 401 later (token changed under the page) brings the prompt back.
        page.execute_script("sessionStorage.setItem('dts.apiToken', 'stale-token-stale-token')")
        until(page, lambda: find(page, "#token-dialog").get_attribute("open") is not None,
              "the prompt again", timeout=LIVE_WAIT)
        fill(page, "#token-input", TOKEN)
        click(page, "#token-submit")
        until(page, lambda: find(page, "#token-dialog").get_attribute("open") is None, "signed in again")
        until(page, lambda: visible_job_ids(page) == [job_id], "the jobs again")
    finally:
        page.execute_script("sessionStorage.clear()")
        server.stop()
