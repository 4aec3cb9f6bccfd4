"""The test-support package itself: CI is read one way, processes stop by PID with what
they started, ports are free, the fake clock only moves forward."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from tests.support import FakeClock, alive, children, in_ci, need_module, stop_process
from tests.support.ports import bindable, free_port_with
from tests.support.redis import CLUSTER_BUS_OFFSET


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), ("", False), ("false", False)],
)
def test_ci_is_read_one_way(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("CI", value)
    assert in_ci() is expected


def test_a_missing_module_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no_such_module_cw is not installed"):
        need_module("no_such_module_cw")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true and no_such_module_cw"):
        need_module("no_such_module_cw")


def test_stop_process_ends_a_group_and_its_children() -> None:
    script = (
        "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
        "'import time; time.sleep(60)']); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    try:
        for _ in range(100):
            kids = children(proc.pid)
            if kids:
                break
            time.sleep(0.05)
        assert kids, "the child did not start"
    finally:
        stop_process(proc, timeout=5, group=True)
    assert proc.poll() is not None
    for _ in range(100):
        if not any(alive(k) for k in kids):
            break
        time.sleep(0.05)
    assert not any(alive(k) for k in kids)


def test_a_port_with_a_bus_has_both_free() -> None:
    port = free_port_with(CLUSTER_BUS_OFFSET)
    assert bindable(port) and bindable(port + CLUSTER_BUS_OFFSET)
    assert port + CLUSTER_BUS_OFFSET <= 65535


def test_the_fake_clock_moves_only_when_told() -> None:
    clock = FakeClock(100.0)
    assert clock() == clock() == 100.0
    assert clock.advance(2.5) == 102.5 == clock()
    with pytest.raises(ValueError, match="does not go back"):
        clock.advance(-1)
