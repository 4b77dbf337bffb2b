"""The peer on PostgreSQL: pgqueuer, on the same server as Lifeline.

    python pgqueuer_peer.py DSN install|enqueue COUNT|drain
"""
import asyncio
import sys

import asyncpg
from pgqueuer import AsyncpgDriver, QueueManager, Queries
from pgqueuer.types import QueueExecutionMode


async def main(dsn, action, count):
    connection = await asyncpg.connect(dsn)
    queries = Queries(AsyncpgDriver(connection))
    if action == "install":
        await queries.install()
    elif action == "enqueue":
        for start in range(0, count, 10_000):
            n = min(10_000, count - start)
            await queries.enqueue(["noop"] * n, [None] * n, [0] * n)
    else:
        manager = QueueManager(queries)

        @manager.entrypoint("noop")
        async def noop(job):
            pass

        await manager.run(mode=QueueExecutionMode.drain, batch_size=16, dequeue_timeout=__import__("datetime").timedelta(seconds=1))
    await connection.close()


asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 0))
