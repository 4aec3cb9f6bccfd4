"""The recording proxy of ``flask.request`` and of the URL adapter ``url_for`` uses."""

from __future__ import annotations

from typing import Any

from ..core.inputs import Kind
from . import tracking as _tracking  # the mapping proxies (tracking imports this module)

# Request attributes that are request headers (Werkzeug names them).
_HEADER_ATTRS = {
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
}
_BODY_ATTRS = frozenset(
    {
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
    }
)
_HOST_ATTRS = frozenset({"host", "host_url", "root_url", "url_root", "base_url", "server"})
_SCHEME_ATTRS = frozenset({"scheme", "is_secure", "host_url", "root_url", "url_root", "base_url"})
_PREFIX_ATTRS = frozenset({"script_root", "root_path", "root_url", "url_root", "base_url"})


class TrackedRequest:
    """Delegates to the real request, recording the inputs each attribute reads."""

    __slots__ = ("_req", "_rec")

    def __init__(self, req: Any, rec: Any) -> None:
        object.__setattr__(self, "_req", req)
        object.__setattr__(self, "_rec", rec)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance(request, Request) stays true
        return type(self._req)

    def __getattr__(self, name: str) -> Any:
        req, rec = self._req, self._rec
        if name == "headers":
            return _tracking.TrackedHeaders(req.headers, rec)
        if name == "args":
            return _tracking.TrackedArgs(req.args, rec)
        if name == "cookies":
            return _tracking.TrackedCookies(req.cookies, rec)
        if name == "environ":
            return _tracking.TrackedEnviron(req.environ, rec)
        if name == "values":
            rec.add(Kind.BODY)
            rec.add(Kind.QUERY_ALL)
        elif name in _BODY_ATTRS:
            rec.add(Kind.BODY)
        elif name in _HEADER_ATTRS:
            rec.header(_HEADER_ATTRS[name])
        elif name == "authorization":
            rec.add(Kind.CREDENTIAL)
        elif name in ("remote_addr", "remote_user"):
            rec.remote_addr()
        elif name == "access_route":
            rec.remote_addr()
            rec.header("x-forwarded-for")
        elif name in ("url", "full_path", "query_string"):
            rec.add(Kind.QUERY_ALL)
            if name == "url":
                rec.host()
                rec.scheme()
                rec.prefix()
        if name in _HOST_ATTRS:
            rec.host()
        if name in _SCHEME_ATTRS:
            rec.scheme()
        if name in _PREFIX_ATTRS:
            rec.prefix()
        return getattr(req, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._req, name, value)

    def __repr__(self) -> str:
        return repr(self._req)


class TrackedUrlAdapter:
    """``url_for`` builds with the request's prefix always, and host and scheme when
    external: record those reads."""

    __slots__ = ("_adapter", "_rec")

    def __init__(self, adapter: Any, rec: Any) -> None:
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
        return getattr(self._adapter, name)
