"""The load generator's HTTP client."""

from __future__ import annotations

import asyncio
from pathlib import Path

from benchmarks.http import Connection, Pool


async def _serve(tmp_path: Path) -> tuple[asyncio.Server, int, list[bytes]]:
    """A loopback server answering in the three framings: Content-Length, chunked, and close."""
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                (
                    int(line.split(b":")[1])
                    for line in head.split(b"\r\n")
                    if line.lower().startswith(b"content-length")
                ),
                0,
            )
            body = await reader.readexactly(length)
            seen.append(head.split(b"\r\n")[0] + b" " + body)
            path = head.split(b" ")[1]
            if path == b"/chunked":
                writer.write(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                )
            elif path == b"/close":
                writer.write(b"HTTP/1.1 503 Unavailable\r\nConnection: close\r\nContent-Length: 2\r\n\r\nno")
                await writer.drain()
                writer.close()
                return
            else:
                writer.write(b"HTTP/1.1 202 Accepted\r\nContent-Length: 7\r\n\r\n" + b'{"a":1}')
            await writer.drain()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, port, seen


async def test_http_client_reads_each_framing_and_reconnects_after_close(tmp_path: Path) -> None:
    server, port, seen = await _serve(tmp_path)
    async with server:
        connection = Connection("127.0.0.1", port)
        first = await connection.request("POST", "/v1/contacts", {"Authorization": "Bearer k"}, b'{"x":1}')
        assert (first.status, first.body) == (202, b'{"a":1}')
        chunked = await connection.request("GET", "/chunked", {})
        assert (chunked.status, chunked.body) == (200, b"abcde")
        closed = await connection.request("GET", "/close", {})
        assert (closed.status, closed.body) == (503, b"no")
        again = await connection.request("GET", "/after", {})
        assert again.status == 202
        await connection.close()
        pool = Pool("127.0.0.1", port, 2)
        answers = await asyncio.gather(*(pool.request("GET", f"/p{i}", {}) for i in range(5)))
        assert [a.status for a in answers] == [202] * 5
        await pool.close()
    assert seen[0] == b'POST /v1/contacts HTTP/1.1 {"x":1}'
