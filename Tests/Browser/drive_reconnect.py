"""The dashboard's live stream across a restart of `serve` on another database, with an answer
that is no stream (503) in between, as a browser meets it: prints what it saw as one JSON
object. Python's standard library only.

    python3 drive_reconnect.py LIFELINE_BIN FIRST_HOME SECOND_HOME

The first home's log is longer than the second's, so the page, resuming, asks the second
`serve` for events past the end of its log.
"""
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import time

from devtools import chromium_page

lifeline, first_home, second_home = sys.argv[1:4]


def serve(home, port):
    """`lifeline serve` on `home`, and the port it listens on once it says so."""
    process = subprocess.Popen([lifeline, "serve", "--port", str(port)], env={**os.environ, "LIFELINE_HOME": home},
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    for line in process.stdout:
        if found := re.search(r"http://127\.0\.0\.1:(\d+)", line):
            return process, int(found.group(1))
    raise RuntimeError(f"serve on {home} ended before it listened")


def stop(process):
    process.terminate()
    process.wait(timeout=30)


class Unavailable(http.server.BaseHTTPRequestHandler):
    """Answers every request 503, as serve does while its store does not answer."""
    streams_refused = 0

    def do_GET(self):
        if self.path.startswith("/api/events/stream"):
            Unavailable.streams_refused += 1
        body = b'{"error":"the store is restarting"}'
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


seen = {}
text = lambda selector: f"(document.querySelector('{selector}')?.textContent || '')"
first, port = serve(first_home, 0)
try:
    with chromium_page() as page:
        page.call("Page.navigate", url=f"http://127.0.0.1:{port}/")
        seen["first_live"] = bool(page.wait_for(f"{text('#live')} === 'live' && {text('#events')}.includes('#12 ')"))
        stop(first)
        http.server.ThreadingHTTPServer.allow_reuse_address = True
        unavailable = http.server.ThreadingHTTPServer(("127.0.0.1", port), Unavailable)
        threading.Thread(target=unavailable.serve_forever, daemon=True).start()
        seen["reconnecting"] = page.wait_for(f"{text('#live')} === 'reconnecting…' && {text('#live')}") or ""
        # The browser's own retry meets the 503 and gives up for good; the page's own must follow.
        deadline = time.monotonic() + 15
        while Unavailable.streams_refused < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        seen["refused_streams"] = Unavailable.streams_refused
        unavailable.shutdown()
        unavailable.server_close()
        first, _ = serve(second_home, port)
        # Live again, on a log that ends before where the page was: the old events go.
        seen["second_live"] = bool(page.wait_for(f"{text('#live')} === 'live' && !{text('#events')}.includes('#12 ')", seconds=20))
        enqueued = json.loads(subprocess.run([lifeline, "enqueue", "noop", "--json"], env={**os.environ, "LIFELINE_HOME": second_home},
                                             check=True, capture_output=True, text=True).stdout)["id"]
        seen["new_event"] = bool(page.wait_for(f"{text('#events')}.includes('enqueued job {enqueued}')"))
        seen["events"] = page.evaluate(text("#events"))
finally:
    stop(first)
print(json.dumps(seen))
