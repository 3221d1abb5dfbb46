"""DirectRoute answers every request exactly as FastAPI's own handler does, and skips that
handler's general machinery for well-formed requests to routes of a plain shape."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Annotated, Any

import fastapi.routing
import httpx
import pytest
from fastapi import APIRouter, Body, Depends, FastAPI, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import JSONResponse, Response

from issuance.api.direct import DirectRoute, plan_of


class Item(BaseModel):
    name: str = Field(min_length=1, max_length=8)
    count: int = Field(ge=0)
    tags: list[str] = []


Number = Annotated[str, Path(min_length=1, max_length=6, pattern=r"^[A-Z0-9]+$")]
CALLS: list[str] = []


async def caller(request: Request) -> str:
    CALLS.append("caller")
    who = request.headers.get("x-who", "")
    if who == "nobody":
        raise HTTPException(status_code=401, detail="unknown caller")
    return who


Caller = Annotated[str, Depends(caller)]


def _router(route_class: type[fastapi.routing.APIRoute]) -> APIRouter:
    router = APIRouter(prefix="/v1", route_class=route_class)

    @router.post("/items/{number}")
    async def put_item(number: Number, item: Item, who: Caller, again: Caller) -> Response:
        assert who == again
        return JSONResponse({"number": number, "item": item.model_dump(), "who": who})

    @router.get("/items/{number}/count/{count}")
    async def get_item(number: Number, count: Annotated[int, Path(ge=1)], who: Caller) -> Response:
        return JSONResponse({"number": number, "count": count, "who": who})

    return router


def _app(route_class: type[fastapi.routing.APIRoute]) -> FastAPI:
    app = FastAPI()
    app.include_router(_router(route_class))
    return app


@pytest.fixture
async def clients() -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    direct = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_app(DirectRoute)), base_url="http://t"
    )
    general = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=_app(fastapi.routing.APIRoute)), base_url="http://t"
    )
    async with direct, general:
        yield direct, general


JSON = {"content-type": "application/json"}
VALID = b'{"name": "a", "count": 1}'
POSTS: list[tuple[str, bytes, dict[str, str]]] = [
    ("/v1/items/A1", VALID, JSON),
    ("/v1/items/A1", b'{"name": "a", "count": 1, "tags": ["x"], "extra": 3}', JSON),
    ("/v1/items/A1", b'{"name": "a", "count": 1, "name": "bb"}', JSON),  # duplicate key
    ("/v1/items/A1", VALID, {"content-type": "application/json; charset=utf-8"}),
    ("/v1/items/A1", VALID, {"content-type": "Application/JSON"}),
    ("/v1/items/A1", VALID, {"content-type": "application/vnd.api+json"}),
    ("/v1/items/A1", VALID, {"content-type": "text/plain"}),
    ("/v1/items/A1", VALID, {}),  # no content type
    ("/v1/items/a-1", VALID, JSON),  # path pattern
    ("/v1/items/A1234567", VALID, JSON),  # path length
    ("/v1/items/A1", b"", JSON),
    ("/v1/items/A1", b"{", JSON),
    ("/v1/items/A1", b"[]", JSON),
    ("/v1/items/A1", b"null", JSON),
    ("/v1/items/A1", b'{"name": "a"}', JSON),
    ("/v1/items/A1", b'{"name": "", "count": -1}', JSON),
    ("/v1/items/A1", b'{"name": "a", "count": NaN}', JSON),
    ("/v1/items/A1", b'{"name": "a", "count": 1e400}', JSON),
    ("/v1/items/A1", b'{"name": "a", "count": 123456789012345678901234567890}', JSON),
    ("/v1/items/A1", b'{"name": "\\ud800", "count": 1}', JSON),  # lone surrogate
    ("/v1/items/A1", '{"name": "张", "count": 1}'.encode(), JSON),
    ("/v1/items/A1", '{"name": "a", "count": 1}'.encode("utf-16"), JSON),
    ("/v1/items/A1", b'\xef\xbb\xbf{"name": "a", "count": 1}', JSON),  # UTF-8 BOM
    ("/v1/items/A1", b'{"name": "a\xff", "count": 1}', JSON),  # not UTF-8
    ("/v1/items/A1", b'{"name": "a", "count": "1"}', JSON),  # lax int, as FastAPI
    ("/v1/items/A1", VALID, {**JSON, "x-who": "nobody"}),
    ("/v1/items/A1", b"{", {**JSON, "x-who": "nobody"}),
]
GETS = [
    "/v1/items/A1/count/3",
    "/v1/items/A1/count/0",
    "/v1/items/A1/count/x",
    "/v1/items/A1/count/99999999999999999999999",
    "/v1/items/a_1/count/1",
]


async def _answer(request: Awaitable[httpx.Response]) -> tuple[Any, ...]:
    """The answer, or what was raised where this bare app has no handler for it."""
    try:
        r = await request
    except Exception as exc:
        return ("raised", type(exc), str(exc))
    return r.status_code, r.content, r.headers.get("content-type")


@pytest.mark.parametrize(("path", "content", "headers"), POSTS)
async def test_a_post_is_answered_as_fastapi_answers_it(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    path: str,
    content: bytes,
    headers: dict[str, str],
) -> None:
    direct, general = clients
    given = {"x-who": "clerk", **headers}
    ours = await _answer(direct.post(path, content=content, headers=given))
    theirs = await _answer(general.post(path, content=content, headers=given))
    assert ours == theirs


@pytest.mark.parametrize("path", GETS)
async def test_a_get_is_answered_as_fastapi_answers_it(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], path: str
) -> None:
    direct, general = clients
    assert await _answer(direct.get(path)) == await _answer(general.get(path))


@pytest.fixture
def no_general_handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """FastAPI's general handler fails if it is reached at all."""

    async def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("FastAPI's general handler was used")

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", refuse)
    yield


@pytest.mark.usefixtures("no_general_handler")
async def test_a_well_formed_request_skips_the_general_handler(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    direct, general = clients
    CALLS.clear()
    r = await direct.post("/v1/items/B2", content=VALID, headers={**JSON, "x-who": "clerk"})
    assert r.json() == {
        "number": "B2",
        "item": {"name": "a", "count": 1, "tags": []},
        "who": "clerk",
    }
    assert CALLS == ["caller"]  # one call per request, as FastAPI caches a dependency
    assert (await direct.get("/v1/items/B2/count/4")).json()["count"] == 4
    with pytest.raises(AssertionError, match="general handler"):
        await general.get("/v1/items/B2/count/4")  # the fixture does break FastAPI's own
    with pytest.raises(AssertionError, match="general handler"):
        await direct.get("/v1/items/B2/count/0")  # an invalid one goes to FastAPI's


async def test_dependency_overrides_send_requests_to_the_general_handler() -> None:
    app = _app(DirectRoute)

    async def override(_request: Request) -> str:
        return "override"

    app.dependency_overrides[caller] = override
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/v1/items/A1/count/1")).json()["who"] == "override"


async def _sync_endpoint() -> None:
    return None


async def _yields(_request: Request) -> AsyncIterator[str]:
    yield "x"


async def _nested(who: Caller) -> str:
    return who


def _plan_for(endpoint: Any, path: str = "/x/{number}") -> Any:
    router = APIRouter(route_class=fastapi.routing.APIRoute)
    router.add_api_route(path, endpoint, methods=["POST"])
    return plan_of(router.routes[0])


async def test_plan_of_a_plain_route() -> None:
    async def endpoint(number: Number, item: Item, who: Caller) -> Response:
        return Response()

    plan = _plan_for(endpoint)
    assert plan is not None
    assert [f.name for f in plan.path] == ["number"]
    assert plan.body.name == "item"
    assert [name for name, _ in plan.dependencies] == ["who"]


async def _query(number: Number, q: Annotated[int, Query()]) -> Response:
    return Response()


async def _request(number: Number, request: Request) -> Response:
    return Response()


async def _embedded(number: Number, item: Annotated[Item, Body(embed=True)]) -> Response:
    return Response()


async def _two_bodies(number: Number, a: Item, b: Item) -> Response:
    return Response()


async def _generator_dep(number: Number, x: Annotated[str, Depends(_yields)]) -> Response:
    return Response()


async def _sub_deps(number: Number, x: Annotated[str, Depends(_nested)]) -> Response:
    return Response()


async def _dict_result(number: Number) -> dict[str, str]:
    return {}


def _sync(number: Number) -> Response:
    return Response()


async def _scalar_body(number: Number, n: Annotated[int, Body()]) -> Response:
    return Response()


@pytest.mark.parametrize(
    "endpoint",
    [_query, _request, _embedded, _two_bodies, _generator_dep, _sub_deps, _dict_result, _sync,
     _scalar_body],
)  # fmt: skip
def test_routes_of_other_shapes_keep_fastapis_handler(endpoint: Any) -> None:
    assert _plan_for(endpoint) is None
