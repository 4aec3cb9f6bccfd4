"""The recording proxies a cached request sees instead of Flask's objects.

They fail closed: every way of reaching the data that is not known to read one named,
keyable input (an attribute nobody listed, ``str()``, ``repr()``, ``format()``, ``==``,
``hash()``, iteration, pickling) is recorded as a read of *everything* the object holds,
or as an input the guard cannot key at all, and either keeps the response out of the
cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from ..core.inputs import Kind, Read
from .recorder import Recorder


class _Tracked:
    """Base of the mapping proxies: delegate, and count any access that is not a read
    by name as a read of everything the wrapped object holds."""

    __slots__ = ("_obj", "_rec")
    _everything: Read = (Kind.HEADER, "*")

    def __init__(self, obj: Any, rec: Recorder) -> None:
        self._obj = obj
        self._rec = rec

    def _all(self) -> Any:
        self._rec.add(*self._everything)
        return self._obj

    def __getattr__(self, name: str) -> Any:
        return getattr(self._all(), name)

    def __iter__(self) -> Iterator[Any]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())

    def __bool__(self) -> bool:
        return bool(self._all())

    def __repr__(self) -> str:
        return repr(self._all())

    def __str__(self) -> str:
        return str(self._all())

    def __format__(self, spec: str) -> str:
        return format(self._all(), spec)

    def __eq__(self, other: object) -> bool:
        other = other._all() if isinstance(other, _Tracked) else other
        return bool(self._all() == other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self._all())

    def __reduce_ex__(self, protocol: Any) -> Any:
        return self._all().__reduce_ex__(protocol)

    def __copy__(self) -> Any:
        return self._all().copy()

    def __deepcopy__(self, memo: Any) -> Any:
        import copy

        return copy.deepcopy(self._all(), memo)


class _ByName(_Tracked):
    """A mapping proxy whose reads by name record that one name (see ``_one``)."""

    __slots__ = ()

    def _one(self, key: object) -> Any:
        raise NotImplementedError

    def get(self, key: str, default: Any = None, type: Any = None) -> Any:
        return self._one(key).get(key, default, type)

    def __getitem__(self, key: str) -> Any:
        return self._one(key)[key]

    def __contains__(self, key: object) -> bool:
        return key in self._one(key)

    def getlist(self, key: str, type: Any = None) -> list[Any]:
        return self._one(key).getlist(key, type)  # type: ignore[no-any-return]


class TrackedHeaders(_ByName):
    __slots__ = ()

    def _one(self, key: object) -> Any:
        if isinstance(key, str):
            self._rec.header(key)
        else:
            self._all()
        return self._obj

    def get_all(self, key: str, type: Any = None) -> list[Any]:
        return self.getlist(key, type)


class TrackedArgs(_ByName):
    __slots__ = ()
    _everything = (Kind.QUERY_ALL, "")

    def _one(self, key: object) -> Any:
        if isinstance(key, str):
            self._rec.query(key)
        else:
            self._all()
        return self._obj


class TrackedCookies(_ByName):
    __slots__ = ()
    _everything = (Kind.COOKIE, "*")

    def _one(self, key: object) -> Any:
        self._rec.add(Kind.COOKIE, str(key))
        return self._obj


# What reading an environ key reads. Keys not listed are inputs the guard cannot key.
_Note = Callable[[Recorder], None]


def _nothing(rec: Recorder) -> None:
    return None


def _query_all(rec: Recorder) -> None:
    rec.add(Kind.QUERY_ALL)


def _body(rec: Recorder) -> None:
    rec.add(Kind.BODY)


def _method(rec: Recorder) -> None:
    rec.add(Kind.METHOD)


_ENVIRON_NOTES: dict[str, _Note] = {
    "REQUEST_METHOD": _method,
    "PATH_INFO": _nothing,  # keyed
    "SCRIPT_NAME": Recorder.prefix,
    "QUERY_STRING": _query_all,
    "HTTP_HOST": Recorder.host,
    "SERVER_NAME": Recorder.host,
    "SERVER_PORT": Recorder.host,
    "wsgi.url_scheme": Recorder.scheme,
    "REMOTE_ADDR": Recorder.remote_addr,
    "wsgi.input": _body,
    "CONTENT_LENGTH": _body,
    "CONTENT_TYPE": _body,
    # What the server and the WSGI stack are, not what the client sent:
    "wsgi.version": _nothing,
    "wsgi.errors": _nothing,
    "wsgi.multithread": _nothing,
    "wsgi.multiprocess": _nothing,
    "wsgi.run_once": _nothing,
    "wsgi.file_wrapper": _nothing,
    "wsgi.input_terminated": _body,
    "SERVER_SOFTWARE": _nothing,
    "GATEWAY_INTERFACE": _nothing,
    "werkzeug.debug.preserve_context": _nothing,
}


class TrackedEnviron(dict):  # type: ignore[type-arg]
    """A real ``dict`` (``send_file``, ``copy_current_request_context`` and WSGI code
    need one) that records each key read; writes go through to the request's environ.

    ``RAW_URI``/``REQUEST_URI`` (the raw request line, which is not the canonical key),
    ``werkzeug.request`` (the untracked request) and every key nobody listed are inputs
    the guard cannot key: reading one keeps the response out of the cache.
    """

    __slots__ = ("_real", "_rec", "_written", "_written_before")

    def __init__(self, environ: dict[str, Any], rec: Recorder) -> None:
        super().__init__(environ)
        self._real = environ
        self._rec = rec
        self._written: set[Any] = set()
        self._written_before: set[Any] = set()

    def seal(self) -> None:
        """The view starts: what hooks and the auth layer wrote so far (a user looked up
        from the credential) is, when read, a read of the principal, like ``g``."""
        self._written_before |= self._written
        self._written = set()

    def _note(self, key: object) -> None:
        if key in self._written:
            return
        if key in self._written_before:
            self._rec.add(Kind.PRINCIPAL)
            return
        if isinstance(key, str):
            if key.startswith("HTTP_") and key != "HTTP_HOST":
                self._rec.header(key[5:].replace("_", "-"))
                return
            note = _ENVIRON_NOTES.get(key)
            if note is not None:
                note(self._rec)
                return
        self._rec.unknown(f"environ[{key!r}]")

    def _all(self) -> None:
        self._rec.add(Kind.HEADER, "*")
        self._rec.unknown("the whole environ")

    def __getitem__(self, key: Any) -> Any:
        self._note(key)
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._note(key)
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._note(key)
        return super().__contains__(key)

    def __setitem__(self, key: Any, value: Any) -> None:
        self._written.add(key)
        self._real[key] = value
        super().__setitem__(key, value)

    def __delitem__(self, key: Any) -> None:
        self._written.add(key)
        self._real.pop(key, None)
        super().__delitem__(key)

    def setdefault(self, key: Any, default: Any = None) -> Any:
        if super().__contains__(key):
            return self[key]
        self[key] = default
        return default

    def pop(self, key: Any, *default: Any) -> Any:
        self._note(key)
        self._written.add(key)
        self._real.pop(key, None)
        return super().pop(key, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def __iter__(self) -> Iterator[Any]:
        self._all()
        return super().__iter__()

    def keys(self) -> Any:
        self._all()
        return super().keys()

    def items(self) -> Any:
        self._all()
        return super().items()

    def values(self) -> Any:
        self._all()
        return super().values()

    def copy(self) -> dict[str, Any]:
        self._all()
        return dict(super().items())

    def popitem(self) -> Any:
        self._all()
        return super().popitem()

    def __repr__(self) -> str:
        self._all()
        return super().__repr__()

    def __eq__(self, other: object) -> bool:
        self._all()
        return super().__eq__(other)

    def __ne__(self, other: object) -> bool:
        return not self == other

    __hash__ = None

    def __reduce_ex__(self, protocol: Any) -> Any:
        self._all()
        return (dict, (dict(super().items()),))

    def __or__(self, other: Any) -> Any:
        self._all()
        return dict(super().items()) | other

    def __ror__(self, other: Any) -> Any:
        self._all()
        return other | dict(super().items())
