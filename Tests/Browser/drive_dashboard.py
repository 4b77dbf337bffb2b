"""Drives the dashboard in headless Chromium over the DevTools protocol, as a user would, and
prints what it saw as one JSON object. Python's standard library only.

    python3 drive_dashboard.py URL LIFELINE_BIN TOKEN FAILED_JOB SCREENSHOT_PNG

The caller (BrowserCLITests) sets LIFELINE_HOME for the lifeline binary, which this script
uses to enqueue a job while the page is open.
"""
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request

url, lifeline, token, failed_job, screenshot, stage_job = sys.argv[1:7]


class WebSocket:
    """The client side of RFC 6455, enough for DevTools: text frames, masked when sent."""

    def __init__(self, address):
        host_port, path = address.removeprefix("ws://").split("/", 1)
        host, port = host_port.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=30)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(1)
        assert b" 101 " in response.split(b"\r\n")[0], response

    def send(self, text):
        payload = text.encode()
        mask = os.urandom(4)
        size = len(payload)
        header = bytes([0x81]) + (bytes([0x80 | size]) if size < 126 else
                                  bytes([0x80 | 126]) + struct.pack(">H", size) if size < 65536 else
                                  bytes([0x80 | 127]) + struct.pack(">Q", size))
        self.sock.sendall(header + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def exact(self, count):
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            if not chunk:
                raise EOFError("DevTools closed the connection")
            data += chunk
        return data

    def receive(self):
        message = b""
        while True:
            first, second = self.exact(2)
            size = second & 0x7F
            if size == 126:
                size = struct.unpack(">H", self.exact(2))[0]
            elif size == 127:
                size = struct.unpack(">Q", self.exact(8))[0]
            message += self.exact(size)
            if first & 0x80:
                return message.decode()


class Page:
    def __init__(self, socket_url):
        self.ws = WebSocket(socket_url)
        self.next_id = 0

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.receive())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression, seconds=15):
        """Polls `expression` until it is truthy; returns its value, or None at the deadline."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        return None


profile = tempfile.mkdtemp(prefix="lifeline-chromium-")
browser = subprocess.Popen(
    ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-port=0",
     "--remote-debugging-address=127.0.0.1", f"--user-data-dir={profile}", "--window-size=1100,1400", "about:blank"],
    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
seen = {}
try:
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + 30
    while not (os.path.exists(port_file) and open(port_file).read().count("\n") >= 1):
        assert time.monotonic() < deadline, "Chromium did not open its DevTools port"
        time.sleep(0.1)
    port = open(port_file).read().split("\n")[0]
    targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list"))
    page = Page(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
    page.call("Page.enable")
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
finally:
    browser.kill()
    browser.wait()
    shutil.rmtree(profile, ignore_errors=True)
print(json.dumps(seen))
