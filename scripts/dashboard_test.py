"""The dashboard at /ui in a real browser (headless Chromium driven by Selenium).

Usage: dashboard_test.py BASE_URL WRITE_TOKEN READ_TOKEN SCREENSHOT_DIR

Against a live `serve --demo` (scripts/dashboard-test starts one): creates jobs and a
schedule through the API, then signs in with the write token, filters, opens a job,
cancels it through the confirm dialog and sees it CANCELED (the API agrees), pauses the
schedule, reads the overview, checks the page at 375 px wide, that every control has a
label, that the browser reported no Content-Security-Policy violation, and that a read
token sees no Cancel or Pause. Saves a screenshot of each page in SCREENSHOT_DIR.
"""

import json
import os
import sys
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import WebDriverWait

BASE, WRITE_TOKEN, READ_TOKEN, SHOTS = sys.argv[1:5]
failures = []


def api(method, path, token, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request) as response:
        text = response.read()
        return json.loads(text) if text else None


def job_body(job_type, code, scheduled_at=None):
    body = {
        "target_channel": {"org_id": "org123", "platform": "slack", "type": "channel", "code": code},
        "job_type_id": job_type,
        "params": {"report_type": "daily"},
    }
    if scheduled_at:
        body["scheduled_at"] = scheduled_at
    return body


def check(condition, message):
    print(("ok   " if condition else "FAIL ") + message, flush=True)
    if not condition:
        failures.append(message)


def shot(driver, name):
    path = os.path.join(SHOTS, f"{name}.png")
    driver.save_screenshot(path)
    print(f"     screenshot {path}", flush=True)


def wait_for(driver, condition, what, timeout=10):
    try:
        # Pages re-render: an element found a moment ago may be gone; look again.
        ignored = (NoSuchElementException, StaleElementReferenceException)
        return WebDriverWait(driver, timeout, ignored_exceptions=ignored).until(condition)
    except TimeoutException:
        shot(driver, "failure-" + what.replace(" ", "-"))
        raise AssertionError(f"timed out waiting for {what}")


def text_is(locator, expected):
    return lambda d: d.find_element(*locator).text == expected


def sign_in(driver, token):
    driver.get(BASE + "/ui")
    field = wait_for(driver, ready.element_to_be_clickable((By.ID, "token")), "the sign-in form")
    field.clear()
    field.send_keys(token)
    field.send_keys(Keys.ENTER)  # the keyboard submits the form
    wait_for(driver, ready.presence_of_element_located((By.ID, "job-filters")), "the jobs page")


def unlabeled_controls(driver):
    return driver.execute_script(
        """
        return [...document.querySelectorAll('input, select, textarea, button')]
          .filter((c) => !c.closest('dialog:not([open])'))
          .filter((c) => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')
                         && !(c.tagName === 'BUTTON' && c.textContent.trim()))
          .map((c) => c.outerHTML);
        """
    )


def main():
    os.makedirs(SHOTS, exist_ok=True)
    # Data: jobs far in the future stay SCHEDULED (cancelable); immediate ones run and complete.
    future = "2031-01-01T09:00:00Z"
    scheduled = [api("POST", "/services/agent-jobs", WRITE_TOKEN, job_body("daily-report", "C-SCHED", future))["data"]
                 for _ in range(3)]
    for _ in range(4):
        api("POST", "/services/agent-jobs", WRITE_TOKEN, job_body("daily-report", "C-NOW"))
    schedule = api("POST", "/services/agent-schedules", WRITE_TOKEN, {
        "name": "morning report", "cron": "0 9 1 1 *", "timezone": "Europe/Paris",
        "job": job_body("daily-report", "C-CRON"),
    })["data"]

    options = webdriver.ChromeOptions()
    options.binary_location = os.environ.get("CHROMIUM", "/usr/bin/chromium")
    for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"]:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(executable_path=os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        # Signed out: the sign-in form, with a labelled field.
        driver.get(BASE + "/ui")
        wait_for(driver, ready.presence_of_element_located((By.ID, "token")), "the sign-in form")
        check(driver.find_element(By.CSS_SELECTOR, "label[for=token]").text == "App token", "the token field is labelled")
        shot(driver, "sign-in")
        field = driver.find_element(By.ID, "token")
        field.send_keys("aj_0000000000000000_" + "0" * 64, Keys.ENTER)
        error = wait_for(driver, lambda d: d.find_element(By.ID, "sign-in-error").text or False, "the refusal")
        check("refused" in error, f"a wrong token is refused on the form ({error!r})")

        # Sign in with the write token: the jobs page with counts on the chips.
        sign_in(driver, WRITE_TOKEN)
        check(driver.execute_script("return sessionStorage.getItem('agentJobs.token')") == WRITE_TOKEN,
              "the token is kept in sessionStorage")
        check(driver.execute_script("return localStorage.length") == 0, "nothing is kept in localStorage")
        wait_for(driver, lambda d: d.find_element(By.ID, "count-SCHEDULED").text == "3", "the SCHEDULED count")
        wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "a.job-link")) == 7, "seven jobs listed")
        check(True, "the list shows all 7 jobs and the chip counts 3 SCHEDULED")
        check(unlabeled_controls(driver) == [], f"every control on the jobs page has a label {unlabeled_controls(driver)}")
        shot(driver, "jobs")

        # Filter: the SCHEDULED chip, then the channel field.
        driver.find_element(By.CSS_SELECTOR, ".chip[data-status=SCHEDULED]").click()
        wait_for(driver, lambda d: "status=SCHEDULED" in d.current_url
                 and len(d.find_elements(By.CSS_SELECTOR, "a.job-link")) == 3, "the SCHEDULED filter")
        statuses = {b.text for b in driver.find_elements(By.CSS_SELECTOR, "#job-results .badge")}
        check(statuses == {"SCHEDULED"}, f"the status chip filters the list ({statuses})")
        check(driver.find_element(By.CSS_SELECTOR, ".chip[data-status=SCHEDULED]").get_attribute("aria-pressed") == "true",
              "the chip shows it is pressed")
        channel = driver.find_element(By.ID, "f-channel")
        channel.send_keys("C-NOW", Keys.ENTER)
        wait_for(driver, ready.presence_of_element_located((By.ID, "no-jobs")), "the empty result")
        check(True, "SCHEDULED and channel C-NOW together match nothing")
        wait_for(driver, lambda d: d.find_element(By.ID, "count-COMPLETED").text == "4"
                 and d.find_element(By.ID, "count-SCHEDULED").text == "0", "the chip counts of channel C-NOW")
        check(True, "the chips count within the other filters (channel C-NOW: 4 COMPLETED, 0 SCHEDULED)")
        driver.find_element(By.ID, "f-channel").clear()
        driver.find_element(By.ID, "f-channel").send_keys("C-SCHED", Keys.ENTER)
        wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "a.job-link")) == 3, "the channel filter")
        shot(driver, "jobs-filtered")

        # Open a job and cancel it through the dialog.
        target = scheduled[0]["job_id"]
        driver.find_element(By.LINK_TEXT, target).click()
        wait_for(driver, text_is((By.ID, "job-id"), target), "the job page")
        check(driver.find_element(By.ID, "job-status").text == "SCHEDULED", "the job page shows SCHEDULED")
        shot(driver, "job")
        # By keyboard: Escape closes the dialog and nothing happens; Enter in the reason field
        # confirms.
        driver.find_element(By.ID, "cancel-job").send_keys(Keys.ENTER)
        dialog = wait_for(driver, ready.visibility_of_element_located((By.ID, "cancel-dialog")), "the confirm dialog")
        check(dialog.get_attribute("open") is not None, "Cancel asks to confirm in a dialog")
        check(unlabeled_controls(driver) == [], f"every control in the dialog has a label {unlabeled_controls(driver)}")
        driver.switch_to.active_element.send_keys(Keys.ESCAPE)
        wait_for(driver, lambda d: d.find_element(By.ID, "cancel-dialog").get_attribute("open") is None, "Escape")
        still = api("GET", f"/services/agent-jobs/{target}", READ_TOKEN)["data"]["job_status"]
        check(still == "SCHEDULED", f"Escape closes the dialog and cancels nothing ({still})")
        driver.find_element(By.ID, "cancel-job").send_keys(Keys.ENTER)
        wait_for(driver, ready.visibility_of_element_located((By.ID, "cancel-dialog")), "the dialog again")
        reason = driver.find_element(By.ID, "cancel-reason-input")
        reason.send_keys("not needed this week")
        shot(driver, "job-cancel-dialog")
        reason.send_keys(Keys.ENTER)
        wait_for(driver, text_is((By.ID, "job-status"), "CANCELED"), "the CANCELED status")
        check(driver.find_element(By.ID, "cancel-reason").text == "not needed this week", "the page shows the reason")
        check(not driver.find_elements(By.ID, "cancel-job"), "a canceled job offers no Cancel")
        stored = api("GET", f"/services/agent-jobs/{target}", READ_TOKEN)["data"]
        check(stored["job_status"] == "CANCELED" and stored["cancel_reason"] == "not needed this week",
              "the API agrees: CANCELED with the reason")
        shot(driver, "job-canceled")

        # A completed job shows its task timeline.
        driver.get(BASE + "/ui#/jobs?status=COMPLETED")
        wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "a.job-link")) >= 1, "a completed job")
        driver.find_elements(By.CSS_SELECTOR, "a.job-link")[0].click()
        wait_for(driver, text_is((By.ID, "job-status"), "COMPLETED"), "the completed job")
        rows = driver.find_elements(By.CSS_SELECTOR, "table[aria-label='Task timeline'] tbody tr")
        check(len(rows) == 1 and "COMPLETED" in rows[0].text, "the task timeline lists its task")
        shot(driver, "job-completed")

        # Overview: counts and the last hour.
        driver.find_element(By.LINK_TEXT, "Overview").click()
        wait_for(driver, ready.presence_of_element_located((By.ID, "status-counts")), "the overview")
        canceled = driver.find_element(By.CSS_SELECTOR, "#status-counts [data-status=CANCELED] .figure").text
        check(canceled == "1", f"the overview counts 1 CANCELED ({canceled})")
        check(len(driver.find_elements(By.CSS_SELECTOR, "svg.chart rect.created")) == 60, "the chart has 60 minutes")
        check(unlabeled_controls(driver) == [], f"every control on the overview has a label {unlabeled_controls(driver)}")
        # Auto-refresh by keyboard: Space on the toggle; the next refresh keeps the focus there.
        first = driver.find_element(By.ID, "generated-at").get_attribute("data-at")
        driver.find_element(By.ID, "auto-refresh").send_keys(Keys.SPACE)
        wait_for(driver, lambda d: d.find_element(By.ID, "generated-at").get_attribute("data-at") != first,
                 "an automatic refresh", timeout=15)
        active = driver.switch_to.active_element
        check(active.get_attribute("id") == "auto-refresh" and active.is_selected(),
              "the overview refreshed itself and the toggle kept the focus")
        active.send_keys(Keys.SPACE)  # off again for the rest of the run
        check(not driver.find_element(By.ID, "auto-refresh").is_selected(), "auto-refresh turned off")
        shot(driver, "overview")

        # Schedules: list, detail, pause.
        driver.find_element(By.LINK_TEXT, "Schedules").click()
        wait_for(driver, ready.presence_of_element_located((By.LINK_TEXT, "morning report")), "the schedule list")
        shot(driver, "schedules")
        driver.find_element(By.LINK_TEXT, "morning report").click()
        wait_for(driver, text_is((By.ID, "schedule-state"), "ACTIVE"), "the schedule page")
        check(unlabeled_controls(driver) == [], f"every control on the schedule page has a label {unlabeled_controls(driver)}")
        driver.find_element(By.ID, "pause-schedule").click()
        wait_for(driver, text_is((By.ID, "schedule-state"), "PAUSED"), "the paused schedule")
        stored = api("GET", f"/services/agent-schedules/{schedule['schedule_id']}", READ_TOKEN)["data"]
        check(stored["paused"] is True, "the API agrees: the schedule is paused")
        shot(driver, "schedule")

        # 375 px wide: nothing wider than the screen.
        driver.set_window_size(375, 812)
        driver.get(BASE + "/ui#/jobs")
        wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, "a.job-link")) == 7, "the narrow jobs page")
        width = driver.execute_script("return document.documentElement.scrollWidth")
        inner = driver.execute_script("return window.innerWidth")
        check(width <= inner, f"at {inner} px wide the jobs page does not scroll sideways ({width} px)")
        shot(driver, "jobs-375px")
        driver.get(BASE + f"/ui#/jobs/{target}")
        wait_for(driver, text_is((By.ID, "job-status"), "CANCELED"), "the narrow job page")
        width = driver.execute_script("return document.documentElement.scrollWidth")
        check(width <= inner, f"at {inner} px wide the job page does not scroll sideways ({width} px)")
        shot(driver, "job-375px")
        driver.set_window_size(1280, 1000)

        # No CSP violation was reported while all this ran.
        logs = [entry["message"] for entry in driver.get_log("browser")]
        violations = [m for m in logs if "Content Security Policy" in m or "Refused to" in m]
        check(violations == [], f"the browser reported no CSP violation {violations}")

        # A read token: the same pages without Cancel or Pause.
        driver.find_element(By.ID, "sign-out").click()
        wait_for(driver, ready.presence_of_element_located((By.ID, "token")), "the sign-in form again")
        check(driver.execute_script("return sessionStorage.getItem('agentJobs.token')") is None,
              "signing out forgets the token")
        sign_in(driver, READ_TOKEN)
        still_scheduled = scheduled[1]["job_id"]
        driver.get(BASE + f"/ui#/jobs/{still_scheduled}")
        wait_for(driver, text_is((By.ID, "job-status"), "SCHEDULED"), "the job page for a read token")
        check(not driver.find_elements(By.ID, "cancel-job"), "a read token sees no Cancel")
        shot(driver, "job-read-only")
        driver.get(BASE + f"/ui#/schedules/{schedule['schedule_id']}")
        wait_for(driver, text_is((By.ID, "schedule-state"), "PAUSED"), "the schedule page for a read token")
        check(not driver.find_elements(By.ID, "resume-schedule") and not driver.find_elements(By.ID, "pause-schedule"),
              "a read token sees no Pause or Resume")
    finally:
        driver.quit()
    if failures:
        print(f"{len(failures)} dashboard check(s) failed", file=sys.stderr)
        sys.exit(1)
    print("dashboard: every check passed")


if __name__ == "__main__":
    main()
