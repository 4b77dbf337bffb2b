"""Lifeline's benchmark: every scenario on a fresh LIFELINE_HOME, three runs each (the median
is shown, with min–max), side by side with the raw-SQLite floor and the huey peer.

    python bench.py LIFELINE_BIN FLOOR_BIN PEER_PYTHON OUT_JSON [--quick]
"""
import glob
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

from serve_timing import percentile, serve_times

lifeline, floor, peer_python, out_json = sys.argv[1:5]
quick = "--quick" in sys.argv
size = (lambda full, small: small if quick else full)
RUNS = 3
here = os.path.dirname(os.path.abspath(__file__))


def home():
    path = tempfile.mkdtemp(prefix="lifeline-bench-")
    return path, {**os.environ, "LIFELINE_HOME": path, "LIFELINE_LOG_LEVEL": "critical"}


def run(env, *args, **kwargs):
    return subprocess.run([lifeline, *args], env=env, check=True, capture_output=True, text=True, **kwargs)


def create_database(env):
    """Read commands create nothing: a setting made ahead of the first job creates the queue."""
    run(env, "queues", "limit", "default", "none", "--create")


def batch(path, count, keys=False):
    with open(path, "w") as file:
        for i in range(count):
            file.write(json.dumps({"idempotency_key": f"k-{i:08x}-{hash(i) & 0xffffffff:08x}"} if keys else {}) + "\n")


def completed(db, rows=False):
    """The default queue's completed jobs: by default the count the store keeps, as `lifeline
    stats` reads it, for watching a worker; counting the rows scans the jobs table (no index
    holds finished jobs by state), which beside a million waiting jobs took enough of the two
    cores to slow the worker being timed by a fifth. `rows` counts them, once a drain is over,
    so a wrong kept count shows beside it."""
    sql = ("SELECT count(*) FROM jobs WHERE queue = 'default' AND state = 'completed'" if rows
           else "SELECT coalesce(sum(n), 0) FROM job_counts WHERE queue = 'default' AND state = 'completed'")
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
        return connection.execute(sql).fetchone()[0]


# Each scenario returns one number per run, or a dict of numbers.
def single_enqueue():
    """One `lifeline enqueue` after another, and the sqlite3 CLI's inserts back to back with
    them (the order alternating run by run), so their ratio is taken within one machine state:
    a sync's cost moves by a third from hour to hour."""
    single_enqueue.runs = getattr(single_enqueue, "runs", 0) + 1
    order = [sqlite3_insert, lifeline_enqueues] if single_enqueue.runs % 2 else [lifeline_enqueues, sqlite3_insert]
    figures = {key: value for scenario in order for key, value in scenario().items()}
    return {**figures, "ratio": figures["p50_ms"] / figures["cli_insert_p50_ms"]}


def lifeline_enqueues():
    path, env = home()
    calls = size(200, 30)
    times = []
    for _ in range(calls):
        start = time.monotonic()
        run(env, "enqueue", "noop")
        times.append((time.monotonic() - start) * 1000)
    shutil.rmtree(path)
    return {"p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99)}


def sqlite3_insert():
    """The reference for a command's start: the sqlite3 CLI doing one durable insert into a
    WAL database in the same place, start to exit."""
    path, _ = home()
    db = f"{path}/reference.db"
    subprocess.run(["sqlite3", db, "PRAGMA journal_mode = WAL; CREATE TABLE jobs (id INTEGER PRIMARY KEY, args TEXT);"],
                   check=True, capture_output=True)
    times = []
    for _ in range(size(200, 30)):
        start = time.monotonic()
        subprocess.run(["sqlite3", db, "PRAGMA synchronous = FULL; INSERT INTO jobs (args) VALUES ('{}');"], check=True,
                       capture_output=True)
        times.append((time.monotonic() - start) * 1000)
    shutil.rmtree(path)
    return {"cli_insert_p50_ms": percentile(times, 50)}


def batch_enqueue(keys):
    def scenario():
        path, env = home()
        count = size(100_000, 10_000)
        batch(f"{path}/jobs.jsonl", count, keys)
        create_database(env)
        start = time.monotonic()
        run(env, "enqueue", "noop", "--batch", f"{path}/jobs.jsonl")
        rate = count / (time.monotonic() - start)
        shutil.rmtree(path)
        return rate
    return scenario


def end_to_end(processes, concurrency, count):
    path, env = home()
    batch(f"{path}/jobs.jsonl", count)
    run(env, "enqueue", "noop", "--batch", f"{path}/jobs.jsonl")
    start = time.monotonic()
    run(env, "worker", "--drain", "--processes", str(processes), "--concurrency", str(concurrency))
    rate = count / (time.monotonic() - start)
    assert completed(f"{path}/lifeline.db") == completed(f"{path}/lifeline.db", rows=True) == count
    shutil.rmtree(path)
    return rate


def pools():
    """1 × 64, 4 × 16 and the floor's claim+complete on the same backlog size, each as two drains
    of half of it in mirrored order (A B F F B A), so that a slow stretch of the machine, which
    can halve a drain's rate for tens of seconds, falls on all three alike; their ratios are taken
    within one machine state, and the order alternates from run to run. A quick run's drains
    are 20,000 jobs, not a tenth of the full run's 50,000: a worker's start and end (about 16 ms
    in a fast hour) are outside the floor's figure, and were a fifth of a 5,000-job drain."""
    pools.runs = getattr(pools, "runs", 0) + 1
    shapes = [(1, 64), (4, 16), "floor"] if pools.runs % 2 else ["floor", (4, 16), (1, 64)]
    half = size(100_000, 40_000) // 2
    seconds = {shape: 0.0 for shape in shapes}
    for shape in shapes + shapes[::-1]:
        rate = floor_run(half)["claim_complete_per_s"] if shape == "floor" else end_to_end(*shape, half)
        seconds[shape] += half / rate
    rates = {shape: 2 * half / seconds[shape] for shape in shapes}
    return {"one": rates[(1, 64)], "four": rates[(4, 16)], "ratio": rates[(4, 16)] / rates[(1, 64)],
            "one_floor": rates[(1, 64)] / rates["floor"]}


def pickup():
    path, env = home()
    create_database(env)
    worker = subprocess.Popen([lifeline, "worker", "--concurrency", "16"], env=env)
    time.sleep(0.5)
    for _ in range(size(1000, 100)):
        run(env, "enqueue", "noop")
    time.sleep(0.5)
    worker.terminate()
    worker.wait()
    events = [json.loads(line) for line in run(env, "events", "--json").stdout.splitlines()]
    enqueued = {e["job"]: e["at"] for e in events if e["type"] == "enqueued"}
    started = {e["job"]: e["at"] for e in events if e["type"] == "started"}
    parse = lambda text: time.mktime(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) + int(text[20:23]) / 1000
    latencies = [(parse(started[j]) - parse(enqueued[j])) * 1000 for j in started]
    shutil.rmtree(path)
    return {"p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99)}


def claim_rate(waiting):
    path, env = home()
    batch(f"{path}/jobs.jsonl", waiting)
    run(env, "enqueue", "noop", "--batch", f"{path}/jobs.jsonl")
    target = size(20_000, 5_000)
    worker = subprocess.Popen([lifeline, "worker", "--concurrency", "64"], env=env)
    start = time.monotonic()
    while completed(f"{path}/lifeline.db") < min(target, waiting):
        time.sleep(0.02)
    rate = min(target, waiting) / (time.monotonic() - start)
    worker.terminate()
    worker.wait()
    shutil.rmtree(path)
    return rate


def backlogs():
    """10k and 1M waiting back to back, so their ratio is taken within one machine state;
    the order alternates from run to run."""
    backlogs.runs = getattr(backlogs, "runs", 0) + 1
    sizes = [10_000, size(1_000_000, 100_000)]
    rates = {waiting: claim_rate(waiting) for waiting in (sizes if backlogs.runs % 2 else sizes[::-1])}
    return {"small": rates[sizes[0]], "large": rates[sizes[1]], "ratio": rates[sizes[1]] / rates[sizes[0]]}


def serve():
    """`lifeline serve` with 1,000,000 jobs waiting in the store."""
    path, env = home()
    batch(f"{path}/jobs.jsonl", size(1_000_000, 100_000))
    run(env, "enqueue", "noop", "--batch", f"{path}/jobs.jsonl")
    times = serve_times(lifeline, env)
    shutil.rmtree(path)
    return times


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_cpu():
    path, env = home()
    create_database(env)
    worker = subprocess.Popen([lifeline, "worker"], env=env)
    time.sleep(1)
    seconds = size(10, 3)
    before = cpu_seconds(worker.pid)
    time.sleep(seconds)
    used = cpu_seconds(worker.pid) - before
    worker.terminate()
    worker.wait()
    shutil.rmtree(path)
    return used / seconds * 100


def rss():
    path, env = home()
    with open(f"{path}/jobs.jsonl", "w") as file:
        file.writelines(json.dumps({"args": {"ms": 5000}}) + "\n" for _ in range(64))
    run(env, "enqueue", "sleep", "--batch", f"{path}/jobs.jsonl")
    worker = subprocess.Popen([lifeline, "worker", "--concurrency", "64"], env=env)
    time.sleep(2)
    kib = next(int(line.split()[1]) for line in open(f"/proc/{worker.pid}/status") if line.startswith("VmRSS"))
    worker.terminate()
    worker.wait()
    shutil.rmtree(path)
    return kib / 1024


def event_times(env, job):
    events = [json.loads(line) for line in run(env, "events", "--json").stdout.splitlines()]
    parse = lambda text: time.mktime(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S")) + int(text[20:23]) / 1000
    return {e["type"]: parse(e["at"]) for e in events if e["job"] == job}


def disk_mib():
    return size(1024, 128)


def cp_and_dgst(source, target, synced):
    """The reference: cp of the recovery point, then openssl dgst -sha256 of the copy; with
    synced, the copy is synced between the two (`sync FILE`), as a finalization's copy is on
    disk when its stage completes."""
    start = time.monotonic()
    subprocess.run(["cp", source, target], check=True)
    if synced:
        subprocess.run(["sync", target], check=True)
    subprocess.run(["openssl", "dgst", "-sha256", target], check=True, capture_output=True)
    return disk_mib() * 1.048576 / (time.monotonic() - start)


def start_cold():
    """Writes back what is dirty and, where allowed (root), drops the page cache, so every
    copy reads its source from the disk and fills memory the kernel has just freed. Copies
    from a warm cache moved three- to fivefold here with their place in the sequence (cp then
    dgst did 1,192 to 1,277 MB/s first, 344 to 376 last); from a cold one, each kept its rank
    in every run. The references' programs are read back in at once, so that their timing,
    like the finalization's, leaves out loading them."""
    subprocess.run(["sync"], check=True)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as file:
            file.write("3")
    except OSError as error:
        if start_cold.cold:
            print(f"bench: the page cache stays ({error.strerror}), so copies read their source from it; "
                  "their rates move with their order", file=sys.stderr)
            start_cold.cold = False
    for program in (["cp", "--version"], ["sync", "--version"], ["openssl", "version"]):
        subprocess.run(program, check=True, capture_output=True)


start_cold.cold = True


def copies():
    """A failover's finalization: the recovery point's disk copied to hot storage and its
    SHA-256 checked, in MB/s from the stage job's start to its completion; and the references
    copying the same recovery point on the same machine, each from a cold start. Run by run,
    each of the three comes first, second and third once, and every copy is kept until all
    three are done."""
    copies.runs = getattr(copies, "runs", 0) + 1
    path, env = home()
    create_database(env)
    worker = subprocess.Popen([lifeline, "worker", "--concurrency", "4"], env=env)
    run(env, "server", "create", "b-1", "--disk-size", f"{disk_mib()}MiB", "--wait", "--timeout", "10m")
    # The point a failover mounts by default: the latest.
    point = sorted(glob.glob(f"{path}/infra/machines/b-1/rp-*"))[-1]
    source = f"{point}/disk-0.img"

    def finalization():
        run(env, "server", "failover", "b-1", "--wait", "--timeout", "10m")
        job = json.loads(run(env, "jobs", "list", "--kind", "recovery.finalize", "--json").stdout.splitlines()[0])
        assert job["result"]["recovery_point"] == os.path.basename(point), job["result"]
        times = event_times(env, job["id"])
        return disk_mib() * 1.048576 / (times["completed"] - times["started"])

    copiers = [("synced_mb_per_s", lambda: cp_and_dgst(source, f"{path}/synced.img", True)),
               ("lifeline_mb_per_s", finalization),
               ("copy_mb_per_s", lambda: cp_and_dgst(source, f"{path}/copy.img", False))]
    turn = (copies.runs - 1) % len(copiers)
    figures = {}
    for key, copier in copiers[turn:] + copiers[:turn]:
        start_cold()
        figures[key] = copier()
    worker.terminate()
    worker.wait()
    shutil.rmtree(path)
    return {**figures, "synced_ratio": figures["lifeline_mb_per_s"] / figures["synced_mb_per_s"]}


def floor_run(count=size(100_000, 10_000)):
    path, env = home()
    create_database(env)
    result = subprocess.run([floor, f"{path}/lifeline.db", str(count), "64"], check=True,
                            capture_output=True, text=True)
    shutil.rmtree(path)
    return json.loads(result.stdout)


def peer_run():
    path = tempfile.mkdtemp(prefix="huey-bench-")
    result = subprocess.run([peer_python, f"{here}/huey_peer.py", f"{path}/peer", str(size(20_000, 2_000))], check=True,
                            capture_output=True, text=True, cwd=path)
    shutil.rmtree(path)
    return json.loads(result.stdout)


def measure(scenario):
    results = [scenario() for _ in range(RUNS)]
    if isinstance(results[0], dict):
        return {key: measure_values([r[key] for r in results]) for key in results[0]}
    return measure_values(results)


def measure_values(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "values": values}


floor_figures = measure(floor_run)
peer_figures = measure(peer_run)
rows = [
    ("single CLI enqueue p50 (ms; floor: sqlite3 CLI, one insert)", lambda: measure(single_enqueue), "p50_ms", "cli_insert_p50_ms",
     None, ""),
    ("single CLI enqueue p99 (ms)", None, "p99_ms", None, None, ""),
    ("single CLI enqueue p50 ÷ sqlite3 CLI's (same run)", None, "ratio", None, None, "≤ 1.5"),
    ("batch enqueue, no keys (jobs/s)", lambda: measure(batch_enqueue(False)), None, "insert_per_s", "enqueue_per_s", "≥ 1.0× floor"),
    ("batch enqueue, unique keys (jobs/s)", lambda: measure(batch_enqueue(True)), None, "insert_per_s", "enqueue_per_s", ""),
    ("end to end, 1 process × 64 (jobs/s)", lambda: measure(pools), "one", "claim_complete_per_s", "end_to_end_per_s",
     "≥ 0.8× floor, ≥ 10× peer"),
    ("end to end, 4 processes × 16 (jobs/s)", None, "four", "claim_complete_per_s", "end_to_end_per_s", "≥ 10× peer"),
    ("end to end, 4 × 16 ÷ 1 × 64 (same run)", None, "ratio", None, None, "≥ 1.0"),
    ("end to end, 1 × 64 ÷ floor's claim+complete (same run)", None, "one_floor", None, None, "≥ 0.8"),
    ("pickup latency p50 (ms)", lambda: measure(pickup), "p50_ms", None, None, "≤ 5"),
    ("pickup latency p99 (ms)", None, "p99_ms", None, None, "≤ 50"),
    ("claim+complete, 10k waiting (jobs/s)", lambda: measure(backlogs), "small", None, None, ""),
    (f"claim+complete, {size('1M', '100k')} waiting (jobs/s)", None, "large", None, None, ""),
    (f"claim+complete, {size('1M', '100k')} ÷ 10k waiting (same run)", None, "ratio", None, None, "≥ 0.8"),
    (f"idle worker CPU over {size(10, 3)} s (% of a core)", lambda: measure(idle_cpu), None, None, None, "< 1"),
    ("worker RSS with 64 jobs running (MB)", lambda: measure(rss), None, None, None, "≤ 40"),
    (f"serve, {size('1M', '100k')} jobs: dashboard's first page p50 (ms)", lambda: measure(serve), "page_p50_ms", None, None, "≤ 200"),
    (f"serve, {size('1M', '100k')} jobs: /metrics p50 (ms)", None, "metrics_p50_ms", None, None, "≤ 50"),
    (f"copy and verify a {size('1 GiB', '128 MiB')} disk (MB/s; floor: cp then openssl dgst)", lambda: measure(copies), "lifeline_mb_per_s",
     "copy_mb_per_s", None, "≥ 0.7× floor"),
    ("copy and verify ÷ cp, sync, then openssl dgst (same run)", None, "synced_ratio", None, None, ""),
]

results = []
previous = None
for name, scenario, key, floor_key, peer_key, target in rows:
    figures = scenario() if scenario else previous
    previous = figures
    value = figures[key] if key else figures
    # A reference measured with its scenario, back to back, is in the scenario's figures.
    floor_value = (figures[floor_key] if floor_key in figures else floor_figures[floor_key]) if floor_key else None
    peer_value = peer_figures[peer_key] if peer_key else None
    results.append({"scenario": name, "lifeline": value, "floor": floor_value, "peer": peer_value, "target": target})

fmt = lambda f: ("-" if f is None else f"{f['median']:,.2f} ({f['min']:,.2f}–{f['max']:,.2f})" if f["median"] < 10
                 else f"{f['median']:,.1f} ({f['min']:,.1f}–{f['max']:,.1f})" if f["median"] < 100
                 else f"{f['median']:,.0f} ({f['min']:,.0f}–{f['max']:,.0f})")
ratio = lambda a, b: "-" if a is None or b is None or b["median"] == 0 else f"{a['median'] / b['median']:.2f}×"
header = ("scenario", "lifeline median (min–max)", "floor", "peer (huey)", "vs floor", "vs peer", "target")
table = [header] + [(r["scenario"], fmt(r["lifeline"]), fmt(r["floor"]), fmt(r["peer"]), ratio(r["lifeline"], r["floor"]),
                     ratio(r["lifeline"], r["peer"]), r["target"]) for r in results]
widths = [max(len(row[i]) for row in table) for i in range(len(header))]
for row in table:
    print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
with open(out_json, "w") as file:
    json.dump({"quick": quick, "runs": RUNS, "copies_from_disk": start_cold.cold, "results": results}, file, indent=2)
print(f"\nwritten to {out_json}")
