"""A minimal HTTP/1.1 keep-alive client for load generation on loopback.

The load generator shares two cores with the server it measures, so it must cost as little
CPU per request as it can: a general client (httpx, aiohttp) would spend about as much per
request as the server and cap the figure at the client's speed. This one writes a prepared
request and reads the status line, headers and a Content-Length or chunked body; nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes


class HttpError(RuntimeError):
    pass


class Connection:
    """One keep-alive connection; reconnects when the server closes it."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self._reader is None or self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        return self._reader, self._writer

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Response:
        reader, writer = await self._connect()
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}"]
        head += [f"{name}: {value}" for name, value in headers.items()]
        if body or method in ("POST", "PUT"):
            head.append(f"Content-Length: {len(body)}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        status_line = await reader.readline()
        if not status_line:
            await self.close()
            raise HttpError("the server closed the connection")
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise HttpError(f"not an HTTP response: {status_line[:80]!r}")
        status = int(parts[1])
        length: int | None = None
        chunked = close = False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            key = name.strip().lower()
            if key == b"content-length":
                length = int(value.strip())
            elif key == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif key == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            content = bytearray()
            while True:
                size = int((await reader.readline()).split(b";")[0].strip(), 16)
                if size == 0:
                    await reader.readline()
                    break
                content += await reader.readexactly(size)
                await reader.readexactly(2)
            data = bytes(content)
        elif length is not None:
            data = await reader.readexactly(length)
        else:
            data = await reader.read()
            close = True
        if close:
            await self.close()
        return Response(status, data)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None


class Pool:
    """Up to `size` connections; a request waits for a free one."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self._free: asyncio.Queue[Connection] = asyncio.Queue()
        self._all = [Connection(host, port) for _ in range(size)]
        for connection in self._all:
            self._free.put_nowait(connection)

    async def request(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> Response:
        connection = await self._free.get()
        try:
            return await connection.request(method, path, headers, body)
        except BaseException:
            await connection.close()
            raise
        finally:
            self._free.put_nowait(connection)

    async def close(self) -> None:
        for connection in self._all:
            await connection.close()
