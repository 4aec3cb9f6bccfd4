"""Progress: a rich bar on a terminal, plain lines otherwise, nothing in tests."""

from __future__ import annotations

import sys
from typing import IO, Protocol


class Progress(Protocol):
    def start(self, total: int) -> None: ...
    def advance(self, label: str, requests: int) -> None: ...
    def close(self) -> None: ...


class Silent:
    """No output."""

    def start(self, total: int) -> None:
        pass

    def advance(self, label: str, requests: int) -> None:
        pass

    def close(self) -> None:
        pass


class Lines:
    """One plain line per finished endpoint (CI logs, pipes)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self._stream = stream or sys.stderr
        self._total = 0
        self._done = 0

    def start(self, total: int) -> None:
        self._total = total

    def advance(self, label: str, requests: int) -> None:
        self._done += 1
        print(f"scan {self._done}/{self._total}: {label} ({requests} requests)", file=self._stream)

    def close(self) -> None:
        self._stream.flush()


class Bar:
    """A rich progress bar on stderr."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import Progress as RichProgress

        self._progress = RichProgress(console=Console(stderr=True), transient=True)
        self._task = self._progress.add_task("scanning", total=0)

    def start(self, total: int) -> None:
        self._progress.update(self._task, total=total)
        self._progress.start()

    def advance(self, label: str, requests: int) -> None:
        self._progress.update(self._task, advance=1, description=label[-60:])

    def close(self) -> None:
        self._progress.stop()


def for_stream(stream: IO[str]) -> Progress:
    """:class:`Bar` on a terminal, :class:`Lines` otherwise."""
    return Bar() if stream.isatty() else Lines(stream)
