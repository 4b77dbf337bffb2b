#!/usr/bin/env python3
"""A TCP proxy on loopback, for cutting a process off from its database in tests.

    python3 Scripts/lib/tcp_proxy.py TARGET_HOST TARGET_PORT [HOLD_AFTER_BYTES]

Listens on a free loopback port, prints it on the first line, and forwards every connection
to the target. Stopping the proxy (SIGSTOP) freezes every connection through it, as a network
that drops packets does; SIGCONT lets them go on. Given HOLD_AFTER_BYTES, once clients have
sent that many bytes in all it forwards nothing more they send (it reads and drops it, so a
client's end still closes its connection to the target), and says "held" on a line the first
time it drops something: a client caught mid-way, whatever its speed. SIGUSR1 silences every
connection open at that moment, both ways, without closing it, as a NAT or firewall that forgot
it does; connections made after are forwarded.
"""
import asyncio
import signal
import sys


silenced = 0  # connections numbered below this forward nothing more


async def pipe(reader, writer, passed=lambda data: data, number=None):
    try:
        while data := await reader.read(65536):
            if number is not None and number < silenced:
                continue
            if data := passed(data):
                writer.write(data)
                await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def main(host, port, hold_after):
    sent = 0
    held = False

    def up_to_hold(data):
        """What of a client's data goes on: all of it, or what fits under HOLD_AFTER_BYTES."""
        nonlocal sent, held
        if hold_after is None:
            return data
        room = max(hold_after - sent, 0)
        sent += min(len(data), room)
        if len(data) > room and not held:
            held = True
            print("held", flush=True)
        return data[:room]

    connections = 0

    async def handle(client_reader, client_writer):
        nonlocal connections
        number = connections
        connections += 1
        try:
            server_reader, server_writer = await asyncio.open_connection(host, port)
        except OSError:
            client_writer.close()
            return
        await asyncio.gather(
            pipe(client_reader, server_writer, up_to_hold, number), pipe(server_reader, client_writer, number=number)
        )

    def silence():
        global silenced
        silenced = connections

    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, silence)
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else None))
