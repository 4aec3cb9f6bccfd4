"""The recording proxies of ``flask.request``, of the URL adapter and of ``flask.g``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..core.inputs import Kind
from .recorder import Recorder
from .tracked import TrackedArgs, TrackedCookies, TrackedEnviron, TrackedHeaders

_Note = Callable[[Recorder], None]


def _add(kind: Kind, name: str = "") -> _Note:
    def note(rec: Recorder) -> None:
        rec.add(kind, name)

    return note


def _header(name: str) -> _Note:
    def note(rec: Recorder) -> None:
        rec.header(name)

    return note


_BODY = _add(Kind.BODY)
_QUERY = _add(Kind.QUERY_ALL)
_URL_BASE = (Recorder.host, Recorder.scheme, Recorder.prefix)

# What each request attribute reads. An attribute not listed is an input the guard
# cannot key (a new Werkzeug attribute, ``__dict__``, a library's own): fail closed.
_READS: dict[str, tuple[_Note, ...]] = {
    # In the key, or not an input at all:
    **{
        name: ()
        for name in (
            "path",
            "endpoint",
            "blueprint",
            "blueprints",
            "url_rule",
            "view_args",
            "routing_exception",
            "max_content_length",
            "max_form_memory_size",
            "max_form_parts",
            "json_module",
            "on_json_loading_failed",
            "trusted_hosts",
            "shallow",
            "parameter_storage_class",
            "dict_storage_class",
            "list_storage_class",
            "form_data_parser_class",
            "encoding_errors",
            "charset",
            "url_charset",
            "is_multithread",
            "is_multiprocess",
            "is_run_once",
            "close",
            "application",
        )
    },
    "method": (_add(Kind.METHOD),),
    "authorization": (_add(Kind.CREDENTIAL),),
    "remote_addr": (Recorder.remote_addr,),
    "access_route": (Recorder.remote_addr, _header("x-forwarded-for")),
    **{
        name: (_BODY,)
        for name in (
            "data",
            "form",
            "files",
            "json",
            "stream",
            "input_stream",
            "get_data",
            "get_json",
            "content_length",
            "want_form_data_parsed",
            "make_form_data_parser",
            "_load_form_data",
            "_get_file_stream",
            "_cached_json",
        )
    },
    "values": (_BODY, _QUERY),
    "full_path": (_QUERY,),
    "query_string": (_QUERY,),
    "url": (_QUERY, *_URL_BASE),
    "base_url": _URL_BASE,
    "url_root": _URL_BASE,
    "root_url": _URL_BASE,
    "host_url": (Recorder.host, Recorder.scheme),
    "host": (Recorder.host,),
    "server": (Recorder.host,),
    "scheme": (Recorder.scheme,),
    "is_secure": (Recorder.scheme,),
    "script_root": (Recorder.prefix,),
    "root_path": (Recorder.prefix,),
    # Request attributes that are request headers (Werkzeug names them):
    **{
        attr: (_header(header),)
        for attr, header in {
            "user_agent": "user-agent",
            "accept_languages": "accept-language",
            "accept_mimetypes": "accept",
            "accept_charsets": "accept-charset",
            "accept_encodings": "accept-encoding",
            "referrer": "referer",
            "origin": "origin",
            "content_type": "content-type",
            "mimetype": "content-type",
            "mimetype_params": "content-type",
            "is_json": "content-type",
            "content_encoding": "content-encoding",
            "content_md5": "content-md5",
            "date": "date",
            "pragma": "pragma",
            "cache_control": "cache-control",
            "if_match": "if-match",
            "if_none_match": "if-none-match",
            "if_modified_since": "if-modified-since",
            "if_unmodified_since": "if-unmodified-since",
            "if_range": "if-range",
            "range": "range",
            "max_forwards": "max-forwards",
            "access_control_request_headers": "access-control-request-headers",
            "access_control_request_method": "access-control-request-method",
        }.items()
    },
}


class TrackedRequest:
    """Delegates to the real request, recording the inputs each attribute reads."""

    __slots__ = ("_req", "_rec", "_environ")

    def __init__(self, req: Any, rec: Recorder) -> None:
        object.__setattr__(self, "_req", req)
        object.__setattr__(self, "_rec", rec)
        object.__setattr__(self, "_environ", None)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(request, Request) stays true
        return type(self._req)

    def __getattr__(self, name: str) -> Any:
        req, rec = self._req, self._rec
        if name == "headers":
            return TrackedHeaders(req.headers, rec)
        if name == "args":
            return TrackedArgs(req.args, rec)
        if name == "cookies":
            return TrackedCookies(req.cookies, rec)
        if name == "environ":
            environ = self._environ
            if environ is None:
                environ = TrackedEnviron(req.environ, rec)
                object.__setattr__(self, "_environ", environ)
            return environ
        notes = _READS.get(name)
        if notes is None:
            rec.unknown(f"request.{name}")
        else:
            for note in notes:
                note(rec)
        return getattr(req, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._req, name, value)

    def _whole(self) -> Any:
        rec = self._rec
        rec.add(Kind.QUERY_ALL)
        rec.add(Kind.METHOD)
        for note in _URL_BASE:
            note(rec)
        return self._req

    def __repr__(self) -> str:  # the method and the whole URL
        return repr(self._whole())

    def __str__(self) -> str:
        return str(self._whole())

    def __format__(self, spec: str) -> str:
        return format(self._whole(), spec)


class TrackedUrlAdapter:
    """``url_for`` builds with the request's prefix always, and host and scheme when
    external: record those reads."""

    __slots__ = ("_adapter", "_rec")

    def __init__(self, adapter: Any, rec: Recorder) -> None:
        self._adapter = adapter
        self._rec = rec

    def build(self, *args: Any, **kwargs: Any) -> Any:
        self._rec.prefix()
        url = self._adapter.build(*args, **kwargs)
        if kwargs.get("force_external") or kwargs.get("url_scheme") or "://" in str(url)[:12]:
            self._rec.host()
            self._rec.scheme()
        return url

    def __getattr__(self, name: str) -> Any:
        self._rec.unknown(f"url_adapter.{name}")
        return getattr(self._adapter, name)


class TrackedG:
    """``flask.g`` while a cached view runs: values that were on ``g`` before the view
    started were put there by the auth layer or a hook (``get_jwt_identity()``,
    ``current_user``, ``auth.current_user()`` read them); reading one is a read of the
    principal. Values the view itself sets are its own."""

    __slots__ = ("_g", "_rec", "_before")

    def __init__(self, g: Any, rec: Recorder) -> None:
        object.__setattr__(self, "_g", g)
        object.__setattr__(self, "_rec", rec)
        object.__setattr__(self, "_before", frozenset(vars(g)))

    def _read(self, name: object) -> None:
        if name in self._before:
            self._rec.add(Kind.PRINCIPAL)
        elif self._rec.after:
            self._rec.view_state_read = True

    def _all(self) -> Any:
        if self._before:
            self._rec.add(Kind.PRINCIPAL)
        if self._rec.after:
            self._rec.view_state_read = True
        return self._g

    @property  # type: ignore[misc]
    def __class__(self) -> type:
        return type(self._g)

    def __getattr__(self, name: str) -> Any:
        self._read(name)
        return getattr(self._g, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._g, name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._g, name)

    def get(self, name: str, default: Any = None) -> Any:
        self._read(name)
        return self._g.get(name, default)

    def pop(self, name: str, *default: Any) -> Any:
        self._read(name)
        return self._g.pop(name, *default)

    def setdefault(self, name: str, default: Any = None) -> Any:
        self._read(name)
        return self._g.setdefault(name, default)

    def __contains__(self, name: object) -> bool:
        self._read(name)
        return name in self._g

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __repr__(self) -> str:
        return repr(self._all())
