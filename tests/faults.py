"""Faults for tests that drive the real services against a real Postgres: a TCP
proxy on loopback that can go silent, or hold back only the server's answers."""

from __future__ import annotations

import asyncio


class SilentProxy:
    """TCP on loopback that can stop forwarding without closing anything: bytes
    are held, no FIN, no RST, as with a hung network path.

    `hang()` stops every link and new ones too; `hold_answers()` stops only what
    the server sends on the links open now (what the client sends still goes
    through), while new links work."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.flowing = asyncio.Event()
        self.flowing.set()
        self.links = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []
        self._answers: list[asyncio.Event] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    def hang(self) -> None:
        self.flowing.clear()

    def hold_answers(self) -> None:
        for answers in self._answers:
            answers.clear()

    def resume(self) -> None:
        self.flowing.set()
        for answers in self._answers:
            answers.set()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.append(writer)
        answers = asyncio.Event()
        answers.set()
        self._answers.append(answers)
        try:
            await self.flowing.wait()  # a silent path does not connect onwards either
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
            self._writers.append(up_writer)
            self.links += 1
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer, answers))
        except OSError:
            writer.close()
        finally:
            self._tasks.discard(task)

    async def _pump(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, answers: asyncio.Event | None = None
    ) -> None:
        try:
            while data := await reader.read(65536):
                await self.flowing.wait()
                if answers is not None:
                    await answers.wait()
                writer.write(data)
                await writer.drain()
        except OSError:
            pass
        finally:
            await self.flowing.wait()  # not even a FIN while hung
            if answers is not None:
                await answers.wait()
            writer.close()

    async def close(self) -> None:
        self.resume()
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()  # every pump then ends by itself
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=2)
