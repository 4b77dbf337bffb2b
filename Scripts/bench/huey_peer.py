"""The peer: huey with its SQLite storage, the same no-op jobs.

    python huey_peer.py DIR JOBS    prints {"enqueue_per_s": …, "end_to_end_per_s": …}

Storage uses WAL with fsync on, the setting closest to Lifeline's default durability.
"""
import json
import os
import subprocess
import sys
import time

directory, jobs = sys.argv[1], int(sys.argv[2])
os.makedirs(directory, exist_ok=True)
sys.path.insert(0, directory)
with open(os.path.join(directory, "peer_tasks.py"), "w") as module:
    module.write(
        "from huey import SqliteHuey\n"
        f"huey = SqliteHuey(filename={os.path.join(directory, 'huey.db')!r}, fsync=True, results=False)\n"
        "@huey.task()\n"
        "def noop():\n"
        "    pass\n"
    )
import peer_tasks  # noqa: E402

start = time.monotonic()
for _ in range(jobs):
    peer_tasks.noop()
enqueue = jobs / (time.monotonic() - start)

start = time.monotonic()
consumer = subprocess.Popen(
    [sys.executable, "-m", "huey.bin.huey_consumer", "peer_tasks.huey", "-w", "4", "-k", "process", "-q"],
    cwd=directory, env={**os.environ, "PYTHONPATH": directory}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
)
while peer_tasks.huey.pending_count() > 0:
    time.sleep(0.01)
end_to_end = jobs / (time.monotonic() - start)
consumer.terminate()
consumer.wait()
print(json.dumps({"enqueue_per_s": round(enqueue), "end_to_end_per_s": round(end_to_end)}))
