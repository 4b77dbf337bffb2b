"""Lifeline's benchmark on PostgreSQL, beside the bare SQL floor (pgbench) and pgqueuer, all on
the same throwaway server (Scripts/postgres.sh), three runs each (median, with min–max).

    python postgres_bench.py LIFELINE_BIN PEER_PYTHON OUT_JSON [--quick]
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid

from serve_timing import percentile, serve_times

lifeline, peer_python, out_json = sys.argv[1:4]
quick = "--quick" in sys.argv
size = (lambda full, small: small if quick else full)
RUNS = 3
here = os.path.dirname(os.path.abspath(__file__))
server = os.environ["LIFELINE_TEST_POSTGRES_URL"]


def fresh():
    """A new database on the server, with Lifeline's schema, and the environment that uses it."""
    name = "bench_" + uuid.uuid4().hex[:12]
    subprocess.run(["psql", "-q", "-d", server, "-c", f"CREATE DATABASE {name}"], check=True)
    url = server.rsplit("/", 1)[0] + "/" + name
    env = {**os.environ, "LIFELINE_DATABASE_URL": url, "LIFELINE_HOME": tempfile.mkdtemp(prefix="lifeline-bench-"),
           "LIFELINE_LOG_LEVEL": "critical"}
    run(env, "queues", "limit", "default", "none", "--create")
    return url, env


def drop(url):
    subprocess.run(["psql", "-q", "-d", server, "-c", f"DROP DATABASE {url.rsplit('/', 1)[1]} WITH (FORCE)"], check=True)


def run(env, *args):
    return subprocess.run([lifeline, *args], env=env, check=True, capture_output=True, text=True)


def psql(url, sql):
    return subprocess.run(["psql", "-qAt", "-d", url, "-c", sql], check=True, capture_output=True, text=True).stdout.strip()


def enqueue(env, count):
    path = tempfile.mktemp(suffix=".jsonl")
    with open(path, "w") as file:
        file.writelines("{}\n" for _ in range(count))
    run(env, "enqueue", "noop", "--batch", path)
    os.remove(path)


def end_to_end():
    url, env = fresh()
    count = size(50_000, 5_000)
    enqueue(env, count)
    start = time.monotonic()
    run(env, "worker", "--drain", "--processes", "4", "--concurrency", "16")
    rate = count / (time.monotonic() - start)
    assert psql(url, "SELECT count(*) FROM lifeline.jobs WHERE state = 'completed'") == str(count)
    drop(url)
    return rate


def floor():
    """pgbench, 4 clients, each claiming 16 jobs and completing them, on the same rows."""
    url, env = fresh()
    count = size(50_000, 5_000)
    enqueue(env, count)
    start = time.monotonic()
    done = 0
    # A claim that meets rows locked by another client takes fewer than 16: go on until none is left.
    while done < count:
        subprocess.run(["pgbench", "-n", "-c", "4", "-j", "4", "-t", str((count - done) // 64 + 1), "-f", f"{here}/postgres_floor.sql", url],
                       check=True, capture_output=True)
        done = int(psql(url, "SELECT count(*) FROM lifeline.jobs WHERE state = 'completed'"))
    rate = count / (time.monotonic() - start)
    drop(url)
    return rate


def peer():
    """pgqueuer: 4 worker processes, batches of 16, drain mode."""
    url, _ = fresh()
    count = size(50_000, 5_000)
    subprocess.run([peer_python, f"{here}/pgqueuer_peer.py", url, "install"], check=True, capture_output=True)
    subprocess.run([peer_python, f"{here}/pgqueuer_peer.py", url, "enqueue", str(count)], check=True, capture_output=True)
    start = time.monotonic()
    workers = [subprocess.Popen([peer_python, f"{here}/pgqueuer_peer.py", url, "drain"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for _ in range(4)]
    for worker in workers:
        worker.wait()
    rate = count / (time.monotonic() - start)
    left = psql(url, "SELECT count(*) FROM pgqueuer")
    assert left == "0", f"pgqueuer left {left} jobs"
    drop(url)
    return rate


def pickup():
    url, env = fresh()
    worker = subprocess.Popen([lifeline, "worker", "--concurrency", "16"], env=env)
    time.sleep(1)
    for _ in range(size(500, 100)):
        run(env, "enqueue", "noop")
    time.sleep(0.5)
    worker.terminate()
    worker.wait()
    rows = psql(url, """
        SELECT s.at - e.at FROM lifeline.events e JOIN lifeline.events s ON s.job = e.job AND s.type = 'started'
        WHERE e.type = 'enqueued'""").split()
    drop(url)
    latencies = [int(ms) for ms in rows]
    return {"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99)}


def long_drain():
    """A backlog drained by one worker: the claim rate over the last tenth against the first."""
    url, env = fresh()
    count = size(500_000, 50_000)
    psql(url, f"""
        INSERT INTO lifeline.jobs (queue, kind, args, state, priority, max_attempts, timeout_ms, backoff_ms, backoff_cap_ms,
                                   backoff_jitter, run_at, created_at)
        SELECT 'default', 'noop', '{{}}', 'available', 5, 20, 60000, 1000, 60000, 0.1, 0, 0 FROM generate_series(1, {count});
        INSERT INTO lifeline.job_count_changes (queue, state, n) VALUES ('default', 'available', {count})""")
    psql(url, "VACUUM ANALYZE lifeline.jobs")
    run(env, "worker", "--drain", "--concurrency", "64")
    times = [int(ms) for ms in psql(url, "SELECT at FROM lifeline.events WHERE type = 'completed' ORDER BY seq").split()]
    drop(url)
    tenth = len(times) // 10
    rate = lambda part: len(part) / max((part[-1] - part[0]) / 1000, 0.001)
    return {"start": rate(times[:tenth]), "end": rate(times[-tenth:]), "ratio": rate(times[-tenth:]) / rate(times[:tenth])}


def serve():
    """`lifeline serve` with 1,000,000 jobs waiting in the store (inserted as in the drain)."""
    url, env = fresh()
    psql(url, f"""
        INSERT INTO lifeline.jobs (queue, kind, args, state, priority, max_attempts, timeout_ms, backoff_ms, backoff_cap_ms,
                                   backoff_jitter, run_at, created_at)
        SELECT 'default', 'noop', '{{}}', 'available', 5, 20, 60000, 1000, 60000, 0.1, 0, 0 FROM generate_series(1, {size(1_000_000, 100_000)});
        INSERT INTO lifeline.job_count_changes (queue, state, n) VALUES ('default', 'available', {size(1_000_000, 100_000)})""")
    psql(url, "VACUUM ANALYZE lifeline.jobs")
    times = serve_times(lifeline, env)
    drop(url)
    return times


def measure(scenario):
    results = [scenario() for _ in range(RUNS)]
    if isinstance(results[0], dict):
        return {key: stats([r[key] for r in results]) for key in results[0]}
    return stats(results)


def stats(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


floor_rate, peer_rate = measure(floor), measure(peer)
e2e = measure(end_to_end)
latency = measure(pickup)
drain = measure(long_drain)
served = measure(serve)
rows = [
    ("end to end, 4 processes × 16 (jobs/s)", e2e, floor_rate, peer_rate, "≥ 0.5× floor, ≥ 2× pgqueuer"),
    ("pickup latency p50 (ms)", latency["p50_ms"], None, None, "≤ 5"),
    ("pickup latency p99 (ms)", latency["p99_ms"], None, None, ""),
    (f"drain of {size('500k', '50k')}: claim rate, first tenth (jobs/s)", drain["start"], None, None, ""),
    (f"drain of {size('500k', '50k')}: claim rate, last tenth (jobs/s)", drain["end"], None, None, ""),
    (f"drain of {size('500k', '50k')}: last tenth ÷ first tenth", drain["ratio"], None, None, "≥ 0.8"),
    (f"serve, {size('1M', '100k')} jobs: dashboard's first page p50 (ms)", served["page_p50_ms"], None, None, "≤ 200"),
    (f"serve, {size('1M', '100k')} jobs: /metrics p50 (ms)", served["metrics_p50_ms"], None, None, "≤ 50"),
]
fmt = lambda f: "-" if f is None else f"{f['median']:,.2f} ({f['min']:,.2f}–{f['max']:,.2f})" if f["median"] < 10 else f"{f['median']:,.0f} ({f['min']:,.0f}–{f['max']:,.0f})"
ratio = lambda a, b: "-" if b is None else f"{a['median'] / b['median']:.2f}×"
header = ("PostgreSQL scenario", "lifeline median (min–max)", "floor (pgbench)", "peer (pgqueuer)", "vs floor", "vs peer", "target")
table = [header] + [(name, fmt(value), fmt(f), fmt(p), ratio(value, f), ratio(value, p), target) for name, value, f, p, target in rows]
widths = [max(len(row[i]) for row in table) for i in range(len(header))]
for row in table:
    print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
with open(out_json, "w") as file:
    json.dump({"quick": quick, "runs": RUNS, "rows": [{"scenario": r[0], "lifeline": r[1], "floor": r[2], "peer": r[3], "target": r[4]}
                                                     for r in rows]}, file, indent=2)
print(f"\nwritten to {out_json}")
