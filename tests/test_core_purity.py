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
