"""A local HTTP agent that answers every task document after DELAY seconds, for the
in-flight benchmark (bench/in_flight.sh). GET /stats returns how many documents arrived,
the most held at once, and the first and last arrival (Unix seconds).
Usage: python3 bench/slow_agent.py PORT DELAY_SECONDS"""
import asyncio, json, sys, time

port, delay = int(sys.argv[1]), float(sys.argv[2])
stats = {"arrived": 0, "in_flight": 0, "max_in_flight": 0, "first": None, "last": None}


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, path = lines[0].split(" ")[:2]
            length = 0
            for line in lines[1:]:
                if line.lower().startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            if length:
                await reader.readexactly(length)
            if method == "GET" and path == "/stats":
                body = json.dumps(stats).encode()
            else:
                now = time.time()
                stats["arrived"] += 1
                stats["first"] = stats["first"] or now
                stats["last"] = now
                stats["in_flight"] += 1
                stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
                await asyncio.sleep(delay)
                stats["in_flight"] -= 1
                body = b'{"status": "completed", "result": "ok"}'
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
        pass
    finally:
        writer.close()


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=16384)
    async with server:
        await server.serve_forever()

asyncio.run(main())
