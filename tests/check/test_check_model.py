"""The model the rules read: views, decorators in order, routes, blueprints, imports."""

from __future__ import annotations

import ast
from pathlib import Path

from cacheward.check.builder import build
from cacheward.check.model import CacheFlavor, DecoratorKind
from cacheward.check.reader import read_source
from cacheward.check.runner import discover, module_name

FIXTURES = Path(__file__).parent / "fixtures"


def model_of(root: Path):  # type: ignore[no-untyped-def]
    sources = []
    for file in discover([root]):
        name, is_package = module_name(file)
        sources.append(read_source(file.name, name, ast.parse(file.read_bytes()), is_package))
    return build(sources)


def test_views_keep_decorators_in_written_order() -> None:
    model = model_of(FIXTURES / "blueprint_pkg")
    views = {v.func.name: v for v in model.views}
    assert set(views) == {"list_orders", "summary", "mine", "stats"}
    summary = views["summary"]
    assert [d.kind for d in summary.decorators] == [
        DecoratorKind.ROUTE,
        DecoratorKind.AUTH,
        DecoratorKind.CACHE,
        DecoratorKind.AUTH,
    ]
    assert summary.routes == ("/summary",)
    assert summary.blueprint == "bp"
    assert views["stats"].cache is not None
    assert views["stats"].cache.flavor is CacheFlavor.CUSTOM


def test_module_names_follow_packages() -> None:
    init = FIXTURES / "blueprint_pkg" / "myapi" / "__init__.py"
    assert module_name(init) == ("myapi", True)
    assert module_name(init.with_name("orders.py")) == ("myapi.orders", False)


def test_cache_key_cover() -> None:
    model = model_of(FIXTURES / "headers")
    cover = {v.func.name: v.cover for v in model.views}
    assert cover["links"] == {"path"}
    assert cover["theme"] == {"path", "query"}
    assert {"host", "header:accept-language"} <= cover["greeting"]
    assert [p.detail for p in model.proxyfixes] == ["1"]


def test_cacheward_views_are_keyed_by_the_guard() -> None:
    model = model_of(FIXTURES / "cacheward_correct")
    assert all(v.authenticated for v in model.views)
    # The guard enforces its key, but a shared entry is one for every caller.
    for v in model.views:
        assert v.cover == {"*"} or not v.covers("identity")


def _model_of_tree(root: Path):  # type: ignore[no-untyped-def]
    """The model with each file named by its path (two ``__init__.py`` stay apart)."""
    sources = []
    for file in discover([root]):
        name, is_package = module_name(file)
        sources.append(read_source(str(file), name, ast.parse(file.read_bytes()), is_package))
    return build(sources)


def test_fastapi_routes_carry_router_and_include_prefixes() -> None:
    views = {v.func.name: v for v in _model_of_tree(FIXTURES / "fastapi_routers").views}
    assert views["item"].routes == ("/items/{item_id}",)
    assert views["orders"].routes == ("/orders",)
    assert views["daily"].routes == ("/admin/stats/daily",)
    assert views["usage"].routes == ("/internal/metrics",)
    assert views["shared"].routes == ("/share/{token}",)
    assert views["category"].routes == ("/public/catalog/{category}", "/private/catalog/{category}")


def test_fastapi_router_auth_counts_only_when_every_way_in_checks_the_caller() -> None:
    views = {v.func.name: v for v in _model_of_tree(FIXTURES / "fastapi_routers").views}
    # include_router(dependencies=), a parent router's, the app's, an imported router's,
    # a factory-made router's, module-level lists and markers, and an APIKeyQuery scheme
    # (it denies a missing key: checked, though in the URL)
    guarded = ("item", "history", "orders", "daily", "usage", "invoices", "read", "tags")
    for name in (*guarded, "status"):
        assert views[name].guarded and views[name].authenticated, name
    assert not views["category"].guarded  # also included without auth
    assert not views["weekly"].guarded  # the include's dependency checks nobody
    assert "api_key" in {e.detail for e in views["status"].gates}


def test_routers_included_into_each_other_end() -> None:
    code = (
        "from fastapi import APIRouter, Depends, FastAPI\n"
        "a = APIRouter(prefix='/a')\n"
        "b = APIRouter(prefix='/b')\n"
        "a.include_router(b)\n"
        "b.include_router(a)\n"
        "@a.get('/x')\n"
        "async def x():\n"
        "    return {}\n"
    )
    model = build([read_source("loop.py", "loop", ast.parse(code), False)])
    [view] = model.views  # the walk up the includes stops where it came round
    assert view.routes[0].endswith("/b/a/x")


def test_a_router_returned_by_a_function_keeps_its_dependencies() -> None:
    code = (
        "from fastapi import APIRouter, Depends, FastAPI, HTTPException, Header\n"
        "def verify(x_api_key: str = Header(...)):\n"
        "    if x_api_key != 'k':\n"
        "        raise HTTPException(status_code=401)\n"
        "items = APIRouter(prefix='/items')\n"
        "@items.get('/{item_id}')\n"
        "async def item(item_id: int):\n"
        "    return {}\n"
        "def get_router() -> APIRouter:\n"
        "    api_router = APIRouter(prefix='/api', dependencies=[Depends(verify)])\n"
        "    api_router.include_router(items)\n"
        "    return api_router\n"
        "def init_app(app: FastAPI) -> None:\n"
        "    router = get_router()\n"
        "    app.include_router(router, prefix='/v1')\n"
    )
    [view] = build([read_source("app.py", "app", ast.parse(code), False)]).views
    assert view.routes == ("/v1/api/items/{item_id}",)
    assert view.guarded
