"""``cacheward scan`` on targets nobody here wrote: recall, false findings, requests.

``python -m benchmarks.scan_realworld --root DIR [--corpus benchmarks/scan_corpus.json]
[--only NAME] [--python PY] [--dump DIR] [--src OTHER/src]``

``--python`` runs the labs' Flask apps (an environment with what their requirements
name); ``--src`` scans with another checkout's ``cacheward`` (today's main, side by
side). A target's ``options`` are extra ``cacheward scan`` arguments.

The corpus lists third-party cache-poisoning and deception labs and proxy
configurations that projects ship, each as ``owner/name@commit`` with the path of its
app or configuration, how it is started here, and the vulnerabilities it intends (the
labels are ours, written from the lab's README or the configuration's own rules, each
with the cacheward check id that should report it). No third-party code is committed,
and this runner fetches nothing: ``DIR/owner+name`` must hold the tree (``git archive``
of the listed commit, or the listed files), which it runs as it is, except for the
listed textual substitutions (loopback ports, temp paths, backends).

Each target's origin (the lab's Flask or PHP app, or :mod:`benchmarks.scan_origin`
behind a project's proxy configuration) and its proxy (nginx, Varnish) are started on
free 127.0.0.1 ports, scanned with the CLI's defaults as two principals where the target
has authentication, and stopped by PID. A vulnerability is found when one of its ids
is reported on its path; every other finding is false unless the corpus labels it true
(``"ID /path": true``, checked by hand), and every finding on a trap path is false.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from tests.support import HOST, need_binary
from tests.support.proxies import Server, ServerError, _spawn, _start_on_free_port

from .servers import ROOT

HERE = Path(__file__).resolve().parent


@dataclass
class Result:
    name: str
    intended: int = 0
    found: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)
    true_extra: int = 0
    false: list[str] = field(default_factory=list)
    per_max: int = 0
    per_mean: float = 0.0
    error: str = ""


def _fill(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def _edit(text: str, spec: dict[str, Any], values: dict[str, str]) -> str:
    """The listed lines of a configuration with the listed substitutions."""
    if "lines" in spec:
        rows = text.splitlines()
        text = "\n".join("\n".join(rows[a - 1 : b]) for a, b in spec["lines"])
    if "pick" in spec:  # configuration lines quoted in a page: the lines that match
        text = "\n".join(m.group(1) for m in re.finditer(spec["pick"], text, re.MULTILINE))
    for old, new in spec.get("replace", {}).items():
        text = text.replace(old, _fill(new, values))
    for pattern, new in spec.get("regex", {}).items():
        text = re.sub(pattern, _fill(new, values), text)
    return text


_NGINX_HTTP = """\
events {{ worker_connections 256; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy_temp;
{body}
}}
"""


def start_nginx(tree: Path, spec: dict[str, Any], upstream: int, work: Path) -> Server:
    nginx = need_binary("nginx")

    def build(port: int) -> Server:
        values = {"listen": f"{HOST}:{port}", "upstream": f"{HOST}:{upstream}", "tmp": str(work)}
        body = _edit((tree / spec["config"]).read_text(), spec, values)
        if spec.get("wrap") == "http":
            body = _NGINX_HTTP.format(tmp=work, body=body)
        conf, log, pid = work / "nginx.conf", work / "error.log", work / "nginx.pid"
        conf.write_text(body)
        pid.unlink(missing_ok=True)
        glob = f"daemon off; pid {pid}; error_log {log} warn; user root;"
        argv = [nginx, "-p", str(work), "-c", str(conf), "-e", str(log), "-g", glob]
        return _spawn("nginx", argv, work, port, log=log, ready=pid.exists)

    return _start_on_free_port(build)


def start_varnish(tree: Path, spec: dict[str, Any], upstream: int, work: Path) -> Server:
    varnishd = need_binary("varnishd")

    def build(port: int) -> Server:
        values = {"host": HOST, "port": str(upstream)}
        vcl = work / "target.vcl"
        vcl.write_text(_edit((tree / spec["config"]).read_text(), spec, values))
        log = work / "varnish.log"
        log.unlink(missing_ok=True)
        argv = [varnishd, "-F", "-j", "none", "-a", f"{HOST}:{port}", "-T", f"{HOST}:0"]
        argv += ["-n", str(work / "varnish"), "-f", str(vcl), "-s", "malloc,32m"]
        return _spawn("varnish", argv, work, port, timeout=60.0, log=log, ready=_says(log))

    return _start_on_free_port(build)


#: What the runner adds to a Squid configuration: memory only, files in our temp dir.
_SQUID_RUN = """
cache_mem 16 MB
pid_filename {tmp}/squid.pid
access_log stdio:{tmp}/access.log
cache_log {tmp}/cache.log
coredump_dir {tmp}
shutdown_lifetime 1 seconds
visible_hostname cacheward-corpus
"""


def start_squid(tree: Path, spec: dict[str, Any], upstream: int, work: Path) -> Server:
    """As root Squid drops to ``proxy``, which cannot enter our 0700 temp dir: its files
    go in a directory of their own that user owns (removed with the target)."""
    squid = need_binary("squid")
    tmp = Path(tempfile.mkdtemp(prefix="cw-real-squid-"))
    if os.geteuid() == 0:
        user = pwd.getpwnam("proxy")
        os.chown(tmp, user.pw_uid, user.pw_gid)

    def build(port: int) -> Server:
        values = {"listen": f"{HOST}:{port}", "host": HOST, "port": str(upstream)}
        conf = work / "squid.conf"
        text = _edit((tree / spec["config"]).read_text(), spec, values)
        conf.write_text(text + _SQUID_RUN.format(tmp=tmp))
        log = tmp / "cache.log"
        said = "Accepting reverse-proxy HTTP Socket connections"
        ready = lambda: log.exists() and said in log.read_text(errors="replace")  # noqa: E731
        server = _spawn("squid", [squid, "-N", "-f", str(conf)], work, port, ready=ready)
        server.extra["tmp"] = tmp
        return server

    return _start_on_free_port(build)


def _says(log: Path) -> Any:
    return lambda: log.exists() and "Child launched OK" in log.read_text(errors="replace")


def start_origin(tree: Path, spec: dict[str, Any], work: Path, python: str) -> Server:
    kind = spec["type"]

    def build(port: int) -> Server:
        env = dict(os.environ, **spec.get("env", {}))
        if kind == "flask":
            cwd = tree / spec.get("cwd", ".")
            argv = [python, "-m", "flask", "--app", spec["app"], "run"]
            argv += ["--host", HOST, "--port", str(port), "--no-reload", "--no-debugger"]
        elif kind == "php":
            cwd = tree / spec["docroot"]
            argv = [need_binary("php"), "-S", f"{HOST}:{port}", "-t", str(cwd)]
        else:  # "origin": benchmarks.scan_origin, ours
            cwd, env["PYTHONPATH"] = ROOT, str(ROOT)
            argv = [sys.executable, "-m", "benchmarks.scan_origin", str(port)]
        return _spawn("origin", argv, cwd, port, env=env, log=work / "origin.log")

    return _start_on_free_port(build)


def _keys(spec: dict[str, Any] | None, origin: str, tree: Path) -> tuple[dict[str, str], list[str]]:
    """Each principal's key (never printed) and the CLI options that place it."""
    if not spec:
        return {}, []
    kind, keys = spec["type"], {}
    if kind == "api-key":
        from .scan_origin import USERS

        keys = {name: key for name, (key, _) in USERS.items()}
        return keys, []
    if kind == "login-form":  # the session cookie the lab's own login sets
        for name, password in spec["users"].items():
            data = {spec["user_field"]: name, spec["password_field"]: password}
            got = httpx.post(origin + spec["path"], data=data, timeout=10)
            keys[name] = got.cookies[spec["cookie"]]
    elif kind == "jwt":  # a token signed with the lab's own configured secret
        import jwt

        secret = _env_value(tree / spec["env_file"], spec["secret_var"])
        for name in spec["users"]:
            keys[name] = jwt.encode({"username": name, "exp": 4102444800}, secret, "HS256")
    return keys, ["--key-cookie", spec["cookie"]]


def _env_value(path: Path, var: str) -> str:
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        if name.strip() == var:
            return value.strip()
    raise KeyError(var)


@contextmanager
def running(entry: dict[str, Any], tree: Path, python: str) -> Iterator[tuple[str, str]]:
    """Start the target's origin and proxy; yield the origin's and the front's base URL."""
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cw-real-")))
        origin = start_origin(tree, entry["origin"], work, python)
        stack.callback(origin.stop)
        proxy = entry.get("proxy")
        front = origin
        if proxy:
            start = {"nginx": start_nginx, "varnish": start_varnish, "squid": start_squid}[
                proxy["type"]
            ]
            front = start(tree, proxy, origin.port, work)
            stack.callback(shutil.rmtree, front.extra.get("tmp", work / "none"), True)
            stack.callback(front.stop)
        yield origin.url, front.url


def _path(url: str, front: str) -> str:
    return url.removeprefix(front).split("?")[0]


def _command(src: Path | None) -> tuple[list[str], dict[str, str]]:
    """``cacheward`` of this environment, or of the checkout whose ``src`` is given."""
    if src is None:
        return [_tool("cacheward")], {}
    code = "import sys; from cacheward.cli import main; sys.exit(main())"
    return [sys.executable, "-c", code], {"PYTHONPATH": str(src)}


def scan(
    entry: dict[str, Any],
    tree: Path,
    python: str,
    dump: Path | None = None,
    src: Path | None = None,
) -> Result:
    r = Result(entry["name"])
    with running(entry, tree, python) as (origin, front):
        keys, options = _keys(entry.get("keys"), origin, tree)
        paths = [*(v["path"] for v in entry["intended"]), *entry.get("clean", [])]
        urls = [front + p for p in dict.fromkeys(paths)]
        tool, extra = _command(src)
        env = dict(os.environ, **extra)
        env["CACHEWARD_SCAN_KEYS"] = ",".join(f"{n}={k}" for n, k in keys.items())
        if not keys:
            env.pop("CACHEWARD_SCAN_KEYS")
        cmd = [*tool, "scan", *urls, *options, *entry.get("options", []), "--format", "json"]
        cmd += ["--rate", "0", "--fail-on", "critical", "--inconclusive-ok"]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    if done.returncode not in (0, 1, 3):
        r.error = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "crash"
        return r
    report = json.loads(done.stdout)
    if dump is not None:
        (dump / (entry["repo"].replace("/", "+") + ".json")).write_text(done.stdout)
    seen = {(f["id"], _path(f.get("url") or "", front)) for f in report["findings"]}
    labels: dict[str, bool] = entry.get("labels", {})
    credited: set[tuple[str, str]] = set()
    for v in entry["intended"]:
        r.intended += 1
        hit = [(i, v["path"]) for i in v["ids"] if (i, v["path"]) in seen]
        (r.found if hit else r.missed).append(f"{v['ids'][0]} {v['path']}")
        credited.update(hit)
    for check_id, path in sorted(seen - credited):
        if labels.get(f"{check_id} {path}") and path not in entry.get("traps", []):
            r.true_extra += 1
        else:
            r.false.append(f"{check_id} {path}")
    r.per_max = int(report["stats"].get("requests_per_endpoint_max", 0))
    r.per_mean = float(report["stats"].get("requests_per_endpoint_mean", 0.0))
    return r


def _tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    return str(found) if found.exists() else (shutil.which(name) or name)


def report(results: list[Result]) -> str:
    lines = [f"{'target':48} {'recall':>7} {'false':>5} {'req/endpoint max/mean':>22}"]
    for r in results:
        if r.error:
            lines.append(f"{r.name:48} ERROR {r.error}")
            continue
        recall = f"{len(r.found)}/{r.intended}"
        per = f"{r.per_max:>12} / {r.per_mean:.0f}"
        lines.append(f"{r.name:48} {recall:>7} {len(r.false):>5} {per}")
        lines.extend(f"    missed: {m}" for m in r.missed)
        lines.extend(f"    false:  {f}" for f in r.false)
    ok = [r for r in results if not r.error]
    found, planted = sum(len(r.found) for r in ok), sum(r.intended for r in ok)
    pct = f"{100 * found / planted:.0f}%" if planted else "-"
    lines.append(
        f"total: recall {found}/{planted} ({pct}), false findings {sum(len(r.false) for r in ok)},"
        f" true unplanned {sum(r.true_extra for r in ok)}, errors {len(results) - len(ok)},"
        f" requests per endpoint max {max((r.per_max for r in ok), default=0)}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=HERE / "scan_corpus.json")
    parser.add_argument("--root", type=Path, required=True, help="holds owner+name trees")
    parser.add_argument("--only", help="run only targets whose name contains this")
    parser.add_argument("--python", default=sys.executable, help="runs the labs' Flask apps")
    parser.add_argument("--dump", type=Path, help="write each target's JSON report here")
    parser.add_argument("--src", type=Path, help="scan with the cacheward of this src dir")
    args = parser.parse_args(argv)
    corpus = json.loads(args.corpus.read_text(encoding="utf-8"))
    results = []
    for entry in corpus["targets"]:
        if args.only and args.only not in entry["name"]:
            continue
        tree = args.root / entry["repo"].replace("/", "+")
        if not tree.is_dir():
            results.append(Result(entry["name"], error=f"{tree} is missing"))
            continue
        try:
            results.append(scan(entry, tree, args.python, args.dump, args.src))
        except ServerError as e:
            results.append(Result(entry["name"], error=str(e).splitlines()[0]))
    print(report(results))
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    raise SystemExit(main())
