#!/usr/bin/env python3
"""A TCP proxy on loopback, for cutting a process off from its database in tests.

    python3 Scripts/lib/tcp_proxy.py TARGET_HOST TARGET_PORT

Listens on a free loopback port, prints it on the first line, and forwards every connection
to the target. Stopping the proxy (SIGSTOP) freezes every connection through it, as a network
that drops packets does; SIGCONT lets them go on.
"""
import asyncio
import sys


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main(host, port):
    async def handle(client_reader, client_writer):
        try:
            server_reader, server_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2])))
