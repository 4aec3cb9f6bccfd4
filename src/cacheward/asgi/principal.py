"""The principal as a cached endpoint sees it: the rules of
:class:`~cacheward.core.recording.RecordingPrincipal` (the same as
``cacheward.current_principal`` in Flask), recorded into the request's recorder;
``vars()`` and ``dataclasses.asdict`` read the whole principal too.
"""

from __future__ import annotations

from typing import Any

from ..core.inputs import Kind
from ..core.principal import Principal
from ..core.recording import RecordingPrincipal
from .context import Recorder


class TrackedPrincipal(RecordingPrincipal):
    """A :class:`Principal` stand-in that records what is read of it."""

    __slots__ = ("_rec",)

    def __init__(self, p: Principal, rec: Recorder) -> None:
        super().__init__(p)
        object.__setattr__(self, "_rec", rec)

    def _note(self, kind: Kind) -> None:
        self._rec.add(kind)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a Principal is read-only")

    @property
    def __dict__(self) -> dict[str, Any]:  # type: ignore[override]
        return dict(vars(self._whole()))
