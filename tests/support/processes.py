"""Stopping what a test or benchmark started: by its PID, TERM first, then KILL."""

from __future__ import annotations

import os
import signal
import subprocess
from pathlib import Path


def stop_process(
    proc: subprocess.Popen[bytes], timeout: float = 10.0, *, group: bool = False
) -> None:
    """SIGTERM ``proc`` by its PID, SIGKILL it after ``timeout``; reap it.

    :param group: signal the process group ``proc`` leads (it was started with
        ``start_new_session=True``), so that its helpers end with it.
    """
    if proc.poll() is not None:
        return
    send = os.killpg if group else os.kill
    try:
        send(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        send(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def kill_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGKILL ``proc`` by its PID: it vanishes mid-conversation."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


def children(pid: int) -> list[int]:
    """Direct and indirect children of ``pid`` (Linux ``/proc``; empty elsewhere)."""
    found: list[int] = []
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                kids = [int(k) for k in (task / "children").read_text().split()]
            except OSError:
                continue
            found.extend(kids)
            todo.extend(kids)
    return found


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True
