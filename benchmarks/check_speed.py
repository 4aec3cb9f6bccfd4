"""How fast ``cacheward check`` reads Flask source: files per second on a generated tree.

Run: ``uv run python benchmarks/check_speed.py --files 2000``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from cacheward.check import check_paths

PACKAGE_INIT = """\
from flask import Flask
from flask_caching import Cache
from flask_httpauth import HTTPTokenAuth
from werkzeug.middleware.proxy_fix import ProxyFix

app = Flask(__name__)
app.wsgi_app = ProxyFix(app.wsgi_app, x_for=1)
cache = Cache(app, config={{"CACHE_TYPE": "SimpleCache"}})
auth = HTTPTokenAuth(header="X-API-Key")
"""

MODULE = '''\
"""Generated module {i}."""

import functools

from flask import Blueprint, abort, g, jsonify, request, url_for

from . import auth, cache

bp = Blueprint("m{i}", __name__, url_prefix="/m{i}")
ITEMS = {{str(n): {{"owner": "u" + str(n % 7), "value": n}} for n in range(50)}}


def require_key(view):
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        api_key = request.headers.get("X-API-Key")
        if api_key is None:
            abort(401)
        g.user = api_key[-4:]
        return view(*args, **kwargs)

    return wrapper


def owner_check(item_id):
    if ITEMS[item_id]["owner"] != g.user:
        abort(403)


def per_user(*args, **kwargs):
    return f"{{request.path}}:{{g.user}}"


@bp.get("/items")
@cache.cached(timeout=60, query_string=True)
def items_{i}():
    page = int(request.args.get("page", 1))
    return jsonify(page=page, items=list(ITEMS)[page : page + 10])


@bp.get("/me")
@cache.cached(timeout=60)
@auth.login_required
def me_{i}():
    return jsonify(user=auth.current_user())


@bp.get("/items/<item_id>")
@require_key
def item_{i}(item_id):
    hit = cache.get("item:" + item_id)
    if hit is not None:
        return jsonify(hit)
    owner_check(item_id)
    return jsonify(ITEMS[item_id])


@bp.get("/mine")
@require_key
@cache.cached(timeout=60, make_cache_key=per_user)
def mine_{i}():
    resp = jsonify(user=g.user, link=url_for("m{i}.mine_{i}"))
    resp.cache_control.private = True
    return resp
'''


def generate(root: Path, files: int) -> None:
    """Write ``files`` modules (one package ``__init__`` among them) under ``root``."""
    package = root / "genapp"
    package.mkdir()
    (package / "__init__.py").write_text(PACKAGE_INIT.format())
    for i in range(files - 1):
        (package / f"mod{i:05d}.py").write_text(MODULE.format(i=i))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=500, help="modules to generate")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        generate(root, args.files)
        best = float("inf")
        findings = 0
        for _ in range(args.repeat):
            started = time.perf_counter()
            report = check_paths([root])
            best = min(best, time.perf_counter() - started)
            findings = len(report.findings)
        files = report.stats["files"]
    print(
        f"cacheward check: {files} files, {findings} findings,"
        f" best of {args.repeat}: {best:.2f} s, {files / best:,.0f} files/s"
    )


if __name__ == "__main__":
    main()
