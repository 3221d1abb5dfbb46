"""Every HTTP door bounded before its body is read: who calls, how large, how deep.

:class:`Doors` is an ASGI middleware in front of every route (``create_app``
installs it), so a route added anywhere gets the same treatment without a line
of its own. For each request it finds the route and, before a byte of the body
is read:

1. **authenticates** the caller when the route depends on the bearer token
   (:func:`issuance.api.deps.current_operator`, directly or through
   :func:`issuance.api.deps.context`): a missing or unknown token is a 401 at
   once, and the operator found is handed to the route;
2. refuses with **413** ``payload_too_large`` a ``Content-Length`` above the
   route's **body limit**;
3. counts the body as it arrives: past the limit, 413 again (a chunked body
   declares no length). A route whose limit is at most :data:`BUFFERED_LIMIT`
   has its body read here, up to the limit, and checked for **JSON nesting**
   deeper than :data:`MAX_JSON_DEPTH` (400 ``json_too_deep``) before the route
   parses it; a larger (streamed) limit is only counted.

The limit of a route is :data:`DEFAULT_BODY_LIMIT` when it takes a body,
:data:`NO_BODY_LIMIT` when it takes none, or what the route declares with
``openapi_extra=body_limit(n)`` (which the OpenAPI document shows as
``x-body-limit``). A request that matches no route (a 404 or a 405 follows) has
:data:`NO_BODY_LIMIT`; one for a route that is not FastAPI's (a mounted app)
:data:`DEFAULT_BODY_LIMIT`, without authentication.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from dataclasses import dataclass
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.routing import BaseRoute

from issuance.api.deps import OPERATOR_SCOPE_KEY, context, current_operator
from issuance.api.responses import error_response
from issuance.jsondepth import MAX_JSON_DEPTH, depth_exceeds
from sscard_core.connect import database_errors
from sscard_core.errors import AuthError, InputError, PayloadTooLarge, SscardError

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MIB = 1024 * 1024
# A JSON request with a photo: base64 of a photo at its cap (3,000,000 characters) and the rest.
DEFAULT_BODY_LIMIT = 4 * MIB
NO_BODY_LIMIT = 16 * 1024  # a route without a body still tolerates "{}" and the like
BUFFERED_LIMIT = DEFAULT_BODY_LIMIT  # bodies up to this are read here and checked for depth
LIMIT_KEY = "x-body-limit"
# Set only by the in-process warm-up (issuance.api.warmup), never by a server: its token-less calls
# go on to the route, which answers the same 401 after building its request handler.
WARM_UP_SCOPE_KEY = "sscard.warm_up"
AUTHENTICATING = (current_operator, context)


def body_limit(limit: int) -> dict[str, Any]:
    """``openapi_extra`` for a route that takes a body larger (or smaller) than the default."""
    return {LIMIT_KEY: limit}


class JsonTooDeep(InputError):
    code = "json_too_deep"
    http_status = 400


class BadContentLength(InputError):
    code = "malformed_body"
    http_status = 400


@dataclass(frozen=True)
class Door:
    """What a route accepts before its body is read."""

    limit: int
    authenticated: bool

    @property
    def buffered(self) -> bool:
        return self.limit <= BUFFERED_LIMIT


PUBLIC_DOOR = Door(DEFAULT_BODY_LIMIT, authenticated=False)  # a route that is not FastAPI's
UNMATCHED_DOOR = Door(NO_BODY_LIMIT, authenticated=False)  # no route: a 404 or 405 follows


def _calls(dependant: Dependant) -> Iterable[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def door_of(route: BaseRoute) -> Door:
    if not isinstance(route, APIRoute):
        return PUBLIC_DOOR
    declared = (route.openapi_extra or {}).get(LIMIT_KEY)
    default = NO_BODY_LIMIT if route.body_field is None else DEFAULT_BODY_LIMIT
    authenticated = any(call in AUTHENTICATING for call in _calls(route.dependant))
    return Door(int(declared) if declared is not None else default, authenticated)


@dataclass(frozen=True)
class RouteDoor:
    """One route as the doors see it: its path pattern, its methods and its door."""

    path: re.Pattern[str]
    methods: frozenset[str] | None
    route: BaseRoute
    door: Door
    holder: Any  # the route, or FastAPI's context of its inclusion (its full path and methods)


def flat_routes(api: FastAPI) -> list[RouteDoor]:
    """Every route of ``api``, those of included routers too, in matching order."""
    # FastAPI from 0.16x keeps included routers whole and flattens them on demand.
    contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    found: Iterable[tuple[Any, BaseRoute]] = (
        ((c, c.original_route) for c in contexts(api.routes)) if contexts is not None
        else ((r, r) for r in api.routes)
    )  # fmt: skip
    table = []
    for holder, route in found:
        pattern = getattr(holder, "path_regex", None)
        if pattern is None:
            continue
        methods = getattr(holder, "methods", None)
        table.append(RouteDoor(pattern, None if methods is None else frozenset(methods),
                               route, door_of(route), holder))  # fmt: skip
    return table


class Doors:
    """The ASGI middleware of this module (``app.add_middleware(Doors, api=app)``)."""

    def __init__(self, app: ASGIApp, api: FastAPI) -> None:
        self.app = app
        self.api = api
        self._table: list[RouteDoor] | None = None

    def _door(self, scope: Scope) -> Door:
        if self._table is None:  # built at the first request, once every router is included
            self._table = flat_routes(self.api)
        path, method, root = scope["path"], scope["method"], scope.get("root_path", "")
        if root and path.startswith(root):  # behind a proxy's prefix: match the route's own path
            path = path[len(root) :]
        for entry in self._table:
            if entry.path.match(path) and (entry.methods is None or method in entry.methods):
                return entry.door
        return UNMATCHED_DOOR

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        door = self._door(scope)
        try:
            if door.authenticated and not scope.get(WARM_UP_SCOPE_KEY):
                with database_errors():  # the database down: 503, before any route's handler
                    scope[OPERATOR_SCOPE_KEY] = await current_operator(Request(scope))
            _check_declared_length(scope, door.limit)
            if door.buffered:
                receive = await _buffered(receive, door.limit)
            else:
                receive = _counted(receive, door.limit)
        except SscardError as exc:
            response = error_response(exc)
            if isinstance(exc, AuthError):  # RFC 9110: a 401 names the scheme it wants
                response.headers["WWW-Authenticate"] = "Bearer"
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _check_declared_length(scope: Scope, limit: int) -> None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            if not value.isdigit():
                raise BadContentLength("Content-Length is not a number")
            if int(value) > limit:
                raise PayloadTooLarge(f"the request body is over {limit} bytes", limit=limit)


async def _buffered(receive: Receive, limit: int) -> Receive:
    """Read the whole body (at most ``limit`` bytes), check its depth, and replay it."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return _replay_then(receive, message)
        chunk: bytes = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the request body is over {limit} bytes", limit=limit)
        chunks.append(chunk)
        more = bool(message.get("more_body", False))
    body = b"".join(chunks)
    if depth_exceeds(body):
        raise JsonTooDeep(f"the JSON body nests deeper than {MAX_JSON_DEPTH} levels",
                          limit=MAX_JSON_DEPTH)  # fmt: skip
    return _replay_then(receive, {"type": "http.request", "body": body, "more_body": False})


def _replay_then(receive: Receive, first: Message) -> Receive:
    pending: list[Message] = [first]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _counted(receive: Receive, limit: int) -> Receive:
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        size += len(message.get("body", b""))
        if size > limit:
            raise PayloadTooLarge(f"the request body is over {limit} bytes", limit=limit)
        return message

    return counted
