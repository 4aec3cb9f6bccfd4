"""Test support, one home for the tests and the benchmarks alike.

Import it one way, ``from tests.support import ...`` (the repository root is on the
pytest ``pythonpath``; benchmarks run from the root with ``python -m benchmarks``):

- :mod:`.ports`: ``free_port`` (OS-picked), ``port_open``, ``wait_for_port``;
- :mod:`.binaries`: ``need_binary``/``need_module``, which skip locally and fail under
  ``CI=true`` (``in_ci`` reads ``CI`` here only);
- :mod:`.processes`: ``stop_process``/``kill_process`` by PID, ``children``, ``alive``;
- :mod:`.redis`: ``RedisServer`` and ``RedisCluster``;
- :mod:`.proxies`: gunicorn, nginx and Varnish;
- :mod:`.caches`: HAProxy's cache and Apache Traffic Server;
- :mod:`.wsgi`: the threaded keep-alive WSGI server;
- :mod:`.clock`: ``FakeClock`` for everything that takes ``clock=``.
"""

from __future__ import annotations

from .binaries import in_ci, need_binary, need_module
from .clock import FakeClock
from .ports import HOST, free_port, port_open, wait_for_port
from .processes import alive, children, kill_process, stop_process

__all__ = [
    "HOST",
    "FakeClock",
    "alive",
    "children",
    "free_port",
    "in_ci",
    "kill_process",
    "need_binary",
    "need_module",
    "port_open",
    "stop_process",
    "wait_for_port",
]
