"""The core imports no framework (Flask's sansio rule)."""

import subprocess
import sys


def test_core_imports_no_framework() -> None:
    code = (
        "import sys, cacheward.core, cacheward.errors;"
        "bad = [m for m in ('flask', 'werkzeug', 'httpx', 'redis') if m in sys.modules];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_the_asgi_guard_imports_no_flask() -> None:
    """A FastAPI or Starlette process never loads Flask or Werkzeug for the guard: the
    settings and the storage rules both guards share live outside ``cacheward.flask``."""
    code = (
        "import sys, cacheward.fastapi, cacheward.starlette, cacheward.asgi;"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug')"
        " or m.startswith('cacheward.flask')];"
        "print(','.join(sorted(bad)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
