"""Drives the dashboard in headless Chromium over the DevTools protocol, as a user would, and
prints what it saw as one JSON object. Python's standard library only.

    python3 drive_dashboard.py URL LIFELINE_BIN TOKEN FAILED_JOB SCREENSHOT_PNG

The caller (BrowserCLITests) sets LIFELINE_HOME for the lifeline binary, which this script
uses to enqueue a job while the page is open.
"""
import base64
import json
import os
import subprocess
import sys

from devtools import chromium_page

url, lifeline, token, failed_job, screenshot, stage_job = sys.argv[1:7]

seen = {}
with chromium_page() as page:
    # Markup in user data that ran would call alert: record it instead of opening a dialog.
    page.call("Page.addScriptToEvaluateOnNewDocument", source="window.alert = () => { window.__alerted = true; };")
    # A question before an action that cannot be undone is answered "no", and recorded.
    page.call("Page.addScriptToEvaluateOnNewDocument", source="window.confirm = (q) => { window.__asked = q; return false; };")
    page.call("Page.navigate", url=url)

    text = lambda selector: f"(document.querySelector('{selector}')?.textContent || '')"
    seen["jobs_shown"] = page.wait_for(f"{text('#jobs tbody')}.includes('{failed_job}') && {text('#jobs tbody')}") or ""
    seen["servers_shown"] = page.wait_for(f"{text('#servers tbody')}") or ""
    seen["workers_shown"] = page.wait_for(f"{text('#workers tbody')}") or ""
    # A server's history opens from its name.
    page.evaluate("document.querySelector('#servers a').click()")
    seen["history"] = page.wait_for(f"!document.getElementById('server').hidden && {text('#history')}") or ""
    seen["live"] = page.wait_for(f"{text('#live')} === 'live' && 'live'") or page.evaluate(text("#live"))
    # The table's lists leave out the jobs' args, which may take megabytes.
    seen["lists_brief"] = page.evaluate("(() => { const lists = performance.getEntriesByType('resource').map((e) => e.name)"
                                        ".filter((name) => name.includes('/api/jobs?')); return lists.length > 0 && lists.every((name) => name.includes('brief=true')); })()")

    # The latest events show at once, before anything new happens.
    seen["events_on_load"] = bool(page.wait_for(f"{text('#events')}.includes('server web-1')"))
    # A new event reaches the page without a reload.
    enqueued = json.loads(subprocess.run([lifeline, "enqueue", "noop", "--json"], check=True, capture_output=True,
                                         text=True).stdout)["id"]
    seen["event_without_reload"] = bool(page.wait_for(f"{text('#events')}.includes('enqueued job {enqueued}')"))
    seen["new_job_listed"] = bool(page.wait_for(f"{text('#jobs tbody')}.includes('noop')"))

    # The failed job's timeline shows its args as text; markup in them runs nowhere.
    page.evaluate(f"document.querySelector('#jobs a[href=\"#job-{failed_job}\"]').click()")
    seen["timeline"] = page.wait_for(f"!document.getElementById('job').hidden && {text('#timeline')}") or ""
    seen["args_as_text"] = page.evaluate(text("#job-fields"))
    seen["scripts_on_page"] = page.evaluate("document.scripts.length")
    seen["alert_ran"] = page.evaluate("window.__alerted === true")

    buttons = "[...document.querySelectorAll('#job-actions button')].map((b) => b.textContent)"
    seen["offered_discarded"] = page.evaluate(buttons)
    retry = "[...document.querySelectorAll('#job-actions button')].find((b) => b.textContent === 'Retry')"
    note = "(document.querySelector('#job-actions .refusal, #job-actions .done')?.textContent || '')"
    # Without the token: refused, in place.
    page.evaluate(f"{retry}.click()")
    seen["without_token"] = page.wait_for(f"{note}.startsWith('refused') && {note}") or page.evaluate(note)
    # With the token, typed in as a user would.
    page.evaluate(f"const t = document.getElementById('token'); t.value = {json.dumps(token)}; t.dispatchEvent(new Event('change'))")
    page.evaluate(f"{retry}.click()")
    seen["with_token"] = page.wait_for(f"{note} === 'done' && 'done'") or page.evaluate(note)

    # The page draws the job again once the retry lands; the answer stays next to its button.
    page.wait_for(f"{text('#job-fields')}.includes('available')")
    seen["note_after_redraw"] = page.evaluate(note)
    seen["offered_available"] = page.evaluate(buttons)
    # A job's link is its place: loaded afresh, the page opens that job.
    page.call("Page.navigate", url="about:blank")
    page.wait_for("location.href === 'about:blank'")
    page.call("Page.navigate", url=f"{url}#job-{enqueued}")
    title = text('#job-title')
    seen["deep_link"] = page.wait_for(f"!document.getElementById('job')?.hidden && {title} === 'Job {enqueued}: noop' && {title}") or ""
    # Cancel asks first; answered "no", nothing is sent.
    cancel = "[...document.querySelectorAll('#job-actions button')].find((b) => b.textContent === 'Cancel')"
    page.evaluate(f"{cancel}.click()")
    seen["cancel_asked"] = page.evaluate("window.__asked || ''")
    seen["cancel_note"] = page.evaluate(note)
    shot = page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    with open(screenshot, "wb") as file:
        file.write(base64.b64decode(shot["data"]))
    seen["screenshot_bytes"] = os.path.getsize(screenshot)
    # A link to a job that is not there says so, rather than showing the last one.
    page.call("Page.navigate", url="about:blank")
    page.wait_for("location.href === 'about:blank'")
    page.call("Page.navigate", url=f"{url}#job-{enqueued}")
    page.wait_for(f"{title} === 'Job {enqueued}: noop'")
    page.evaluate("location.hash = '#job-999999'")
    seen["missing_link"] = page.wait_for(f"{title}.startsWith('Job 999999') && {title}") or page.evaluate(title)
    # A place that is no job's id is refused by what it says.
    page.evaluate("location.hash = '#job-abc'")
    seen["bad_link"] = page.wait_for(f"{title}.startsWith('Job abc') && {title}") or page.evaluate(title)
    # A recovery stage's cancelled job offers no retry, which the API would refuse: its server's actions retry it.
    page.evaluate(f"location.hash = '#job-{stage_job}'")
    page.wait_for(f"{title}.startsWith('Job {stage_job}:') && {text('#job-fields')}.includes('cancelled')")
    seen["offered_stage"] = page.evaluate(buttons)
    seen["stage_actions"] = page.evaluate(text("#job-actions"))
print(json.dumps(seen))
