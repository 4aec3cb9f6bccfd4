"""A missing binary or module skips a test locally and fails it under ``CI=true``.

``CI`` is read here and only here: ``1``, ``true`` or ``yes`` (any case) mean CI.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from typing import NoReturn

import pytest

#: Where Debian puts daemons (nginx, varnishd) that are not on a user's ``PATH``.
_SBIN = "/usr/sbin:/usr/local/sbin:/sbin"


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> NoReturn:
    """Skip with ``reason`` locally; fail under ``CI=true``, where the test must run."""
    if in_ci():
        pytest.fail(f"CI=true and {reason}", pytrace=False)
    pytest.skip(reason)


def need_binary(name: str, install: str = ".ci/run installs it with apt") -> str:
    """The path of ``name``; skips the test locally, fails it under ``CI=true``."""
    path = shutil.which(name) or shutil.which(name, path=_SBIN)
    if path is None:
        missing(f"{name} is not installed ({install})")
    return path


def need_module(name: str, install: str = "uv sync installs the dev group") -> None:
    """Skip locally, fail under ``CI=true``, when the module ``name`` cannot be imported."""
    if importlib.util.find_spec(name) is None:
        missing(f"{name} is not installed ({install})")
