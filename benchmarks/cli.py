"""Finding the ``cacheward`` command of this environment."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def cacheward_command() -> list[str]:
    """The ``cacheward`` console script of this environment."""
    script = Path(sys.executable).parent / "cacheward"
    if script.exists():
        return [str(script)]
    found = shutil.which("cacheward")
    return [found] if found else [sys.executable, "-c", "from cacheward.cli import main; main()"]
