"""`lifeline serve` timed as its users meet it, on whatever store `env` names: the dashboard's
first page (the four API calls it makes on load) and a /metrics scrape, each 20 times from
request to last byte, p50 in milliseconds."""
import subprocess
import time
import urllib.request


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def serve_times(lifeline, env):
    server = subprocess.Popen([lifeline, "serve", "--port", "0"], env=env, stdout=subprocess.PIPE, text=True)
    try:
        base = server.stdout.readline().split()[-1]

        def timed(paths):
            start = time.monotonic()
            for path in paths:
                urllib.request.urlopen(base + path).read()
            return (time.monotonic() - start) * 1000

        page = [timed(["/api/queues", "/api/stats", "/api/servers", "/api/jobs?limit=50"]) for _ in range(20)]
        metrics = [timed(["/metrics"]) for _ in range(20)]
    finally:
        server.terminate()
        server.wait()
    return {"page_p50_ms": percentile(page, 50), "metrics_p50_ms": percentile(metrics, 50)}
