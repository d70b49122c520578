"""A local HTTP agent that answers every task document after DELAY seconds, for the
in-flight benchmark (bench/in_flight.py). GET /stats returns how many documents arrived,
the most held at once, and the first and last arrival (Unix seconds).

It is a bare asyncio Protocol (no stream objects or coroutine per connection), so that ten
thousand connections arriving at once cost the load generator as little CPU as possible:
the figure is the server's, not this agent's.
Usage: python3 bench/slow_agent.py PORT DELAY_SECONDS"""
import asyncio
import json
import sys
import time

port, delay = int(sys.argv[1]), float(sys.argv[2])
stats = {"arrived": 0, "in_flight": 0, "max_in_flight": 0, "first": None, "last": None}
ANSWER = b'{"status": "completed", "result": "ok"}'


def response(body):
    return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body


class Agent(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport
        self.buffer = b""

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                if line[:15].lower() == "content-length:":
                    length = int(line[15:])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            method, path = head.split(" ", 2)[:2]
            if method == "GET" and path == "/stats":
                self.transport.write(response(json.dumps(stats).encode()))
                continue
            now = time.time()
            stats["arrived"] += 1
            stats["first"] = stats["first"] or now
            stats["last"] = now
            stats["in_flight"] += 1
            stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
            asyncio.get_running_loop().call_later(delay, self.answer)

    def answer(self):
        stats["in_flight"] -= 1
        if not self.transport.is_closing():
            self.transport.write(response(ANSWER))


async def main():
    server = await asyncio.get_running_loop().create_server(Agent, "127.0.0.1", port, backlog=16384)
    async with server:
        await server.serve_forever()

asyncio.run(main())
