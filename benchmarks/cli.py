"""Finding the ``cacheward`` command and asking whether a subcommand exists yet."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path


def cacheward_command() -> list[str]:
    """The ``cacheward`` console script of this environment."""
    script = Path(sys.executable).parent / "cacheward"
    if script.exists():
        return [str(script)]
    found = shutil.which("cacheward")
    return [found] if found else [sys.executable, "-c", "from cacheward.cli import main; main()"]


def has_subcommand(name: str) -> bool:
    done = subprocess.run(
        [*cacheward_command(), name, "--help"], capture_output=True, text=True, check=False
    )
    return done.returncode == 0
