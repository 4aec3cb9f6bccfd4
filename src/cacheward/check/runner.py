"""Run the checker over files and directories: parse, model, rules, suppressions, report."""

from __future__ import annotations

import ast
import fnmatch
import gc
import os
import sys
import time
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..core.finding import Finding, Report
from ..errors import UnreadablePath as UnreadablePath
from .builder import build
from .model import View
from .reader import is_test_path, read_source
from .registry import Issue, all_rules
from .source import Source
from .suppression import NO_REASON_ID, suppressions

#: Directories never descended into.
SKIP_DIRS = frozenset(
    {".git", ".hg", ".venv", "venv", "__pycache__", "node_modules", ".tox", ".nox", "build", "dist"}
)


def discover(paths: Sequence[Path], exclude: Sequence[str] = ()) -> list[Path]:
    """Every ``.py`` file under ``paths``, sorted, minus ``exclude`` glob patterns.

    :raises UnreadablePath: when a path does not exist or a directory cannot be listed.
    """
    found: list[Path] = []
    for root in paths:
        if not root.exists():
            raise UnreadablePath(str(root), "no such file or directory")
        if root.is_file():
            found.append(root)
            continue
        try:
            for dirpath, dirnames, filenames in os.walk(root, onerror=_raise):
                dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
                found.extend(Path(dirpath, f) for f in sorted(filenames) if f.endswith(".py"))
        except OSError as exc:
            raise UnreadablePath(str(root), exc.strerror or str(exc)) from exc
    unique = dict.fromkeys(p for p in found if not _excluded(p, exclude))
    return list(unique)


def _raise(exc: OSError) -> None:
    raise exc


def _excluded(path: Path, patterns: Iterable[str]) -> bool:
    text = path.as_posix()
    return any(fnmatch.fnmatch(text, p) or fnmatch.fnmatch(path.name, p) for p in patterns)


def module_name(path: Path) -> tuple[str, bool]:
    """The dotted module name of ``path`` from the packages around it, and if it is one."""
    path = path.resolve()
    is_package = path.name == "__init__.py"
    parts = [] if is_package else [path.stem]
    parent = path.parent
    while (parent / "__init__.py").exists():
        parts.insert(0, parent.name)
        if parent.parent == parent:
            break
        parent = parent.parent
    return ".".join(parts) or path.stem, is_package


def display(path: Path) -> str:
    """``path`` relative to the working directory when it is under it."""
    try:
        return path.resolve().relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix()


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic collector: ASTs hold no cycles, and with every tree alive at once
    each full collection rescans them all, which made a run quadratic in files."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check_paths(paths: Sequence[Path], *, exclude: Sequence[str] = ()) -> Report:
    """Check every Python file under ``paths`` and report what the rules found.

    Files that do not parse are reported as notes and skipped; they never stop a run.

    :raises UnreadablePath: when a path or file cannot be read.
    """
    with _no_cyclic_gc():
        return _check(paths, exclude)


def _check(paths: Sequence[Path], exclude: Sequence[str]) -> Report:
    from .. import __version__

    started = time.perf_counter()
    sources: list[Source] = []
    texts: dict[str, str] = {}
    notes: list[str] = []
    for file in discover(paths, exclude):
        shown = display(file)
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise UnreadablePath(shown, exc.strerror or str(exc)) from exc
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # SyntaxWarning in scanned code is not ours
                tree = ast.parse(data, filename=shown)
        except (SyntaxError, ValueError) as exc:
            notes.append(unparsed_note(shown, exc))
            continue
        text = texts[shown] = data.decode("utf-8", errors="replace")
        module, is_package = module_name(file)
        test_code = is_test_path(_within(file, paths))
        sources.append(read_source(shown, module, tree, is_package, text, test_code))
    model = build(sources)
    rules = all_rules()
    raw: dict[tuple[str, int, str], Finding] = {}
    crashed: list[str] = []
    for rule in rules.values():
        try:
            for issue in rule.func(model):
                found = rule.finding(issue)
                raw.setdefault((issue.path, issue.line, rule.id), found)
        except Exception as exc:  # noqa: BLE001 - one broken rule must not hide the others
            crashed.append(crashed_note(rule.id, exc))
    findings, suppressed = _apply_suppressions(raw.values(), texts)
    findings.sort(key=lambda f: (f.path or "", f.line or 0, f.id))
    return Report(
        tool="check",
        version=__version__,
        targets=tuple(str(p) for p in paths),
        findings=tuple(findings),
        stats={
            "files": len(sources),
            "views": len(model.views),
            "suppressed": suppressed,
            "unparsed": len(notes),
            "rules_crashed": len(crashed),
            "seconds": round(time.perf_counter() - started, 3),
        },
        notes=(*notes, *crashed),
        inconclusive=tuple(crashed),
    )


def crashed_note(rule_id: str, exc: Exception) -> str:
    """Say which rule stopped and why; the findings it made before stopping are kept."""
    where = _crash_site(exc)
    return (
        f"rule {rule_id} crashed{where}: {type(exc).__name__}: {exc}; its findings may be"
        " incomplete (the other rules ran; please report this)"
    )


def _crash_site(exc: Exception) -> str:
    """`` on FILE`` for the innermost frame of the rule that was looking at a view or a
    source file when it raised, else ``""``."""
    frames = []
    tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None  # not _check
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        for value in frame.f_locals.values():
            if isinstance(value, View):
                return f" on {value.source.path}"
            if isinstance(value, Source):
                return f" on {value.path}"
    return ""


def unparsed_note(shown: str, exc: SyntaxError | ValueError) -> str:
    """Say which file was not read, where and why, naming the Python that tried.

    ``ast`` parses only the running interpreter's grammar: a file written for a newer
    Python (PEP 695 ``type`` aliases and ``def f[T]``, PEP 701 f-strings) is a syntax error
    here, and the note says so instead of calling it "not valid Python".
    """
    line = getattr(exc, "lineno", None)
    where = f"{shown}:{line}" if line else shown
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    why = getattr(exc, "msg", None) or str(exc)
    return (
        f"{where}: not checked, Python {running} cannot parse it ({why}); if it uses newer"
        " syntax (PEP 695 type parameters, PEP 701 f-strings), run cacheward check under"
        " that Python"
    )


def _within(file: Path, roots: Sequence[Path]) -> str:
    """``file`` relative to the scanned root holding it (test paths are judged from there)."""
    for root in roots:
        try:
            return file.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            continue
    return file.name


def _apply_suppressions(
    findings: Iterable[Finding], texts: dict[str, str]
) -> tuple[list[Finding], int]:
    by_file = {path: suppressions(text) for path, text in texts.items()}
    kept: list[Finding] = []
    suppressed = 0
    for f in findings:
        s = by_file.get(f.path or "", {}).get(f.line or 0)
        if s is not None and s.covers(f.id):
            suppressed += 1
        else:
            kept.append(f)
    no_reason = all_rules()[NO_REASON_ID]
    for path, found in by_file.items():
        for s in found.values():
            if not s.reason:
                node = ast.Pass(lineno=s.line, col_offset=s.column)
                ids = sorted(s.ids) or ["*"]
                kept.append(no_reason.finding(Issue(path, node, {"ignores": ids})))
    return kept, suppressed
