"""The lookup window: reads made by ``before_request`` handlers count too.

A ``before_request`` handler runs before the view, so a value it reads from the request
(``g.lang = request.headers["Accept-Language"]``) can shape the response as surely as a
read in the view. For requests to cached routes of apps that have such handlers, the
request is swapped for the recording proxy from the first handler until ``protected`` or
``cached`` starts; the reads are added to the view's on a miss and dropped on a hit.
Apps without ``before_request`` handlers pay one function call per request.
"""

from __future__ import annotations

from flask import current_app
from flask.ctx import RequestContext
from flask.globals import _cv_request

from .route import CACHED_MARK
from .state import State
from .tracking import Recorder, Swap

_WINDOW = "_cacheward_window"


def begin_window() -> None:
    """Registered as the app's first ``before_request`` handler."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    state: State = app.extensions["cacheward"]
    if state.has_before_request is None:
        # Flask refuses new handlers once the first request ran, so this is final.
        funcs = app.before_request_funcs
        state.has_before_request = any(f is not begin_window for fs in funcs.values() for f in fs)
        if not state.has_before_request:
            # Nothing to watch: leave the hit path. A new list, so that the loop Flask is
            # running over the old one is not disturbed.
            funcs[None] = [f for f in funcs.get(None, ()) if f is not begin_window]
    if not state.has_before_request:
        return
    ctx = _cv_request.get()
    req = ctx.request
    rule = req.url_rule
    if rule is None:
        return
    view = app.view_functions.get(rule.endpoint)
    if view is None or CACHED_MARK not in getattr(view, "__dict__", ()):
        return
    funcs = app.before_request_funcs
    if len(funcs.get(None, ())) <= 1 and not any(funcs.get(bp) for bp in req.blueprints):
        return
    rec = Recorder(state.key_header, req.environ)
    setattr(ctx, _WINDOW, Swap(ctx, rec))


def end_window(ctx: RequestContext) -> Recorder | None:
    """Stop recording ``before_request`` reads; the recorder, if there was a window."""
    swap: Swap | None = ctx.__dict__.pop(_WINDOW, None)
    if swap is None:
        return None
    swap.undo()
    return swap.rec
