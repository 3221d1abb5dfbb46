"""Routes whose well-formed requests skip FastAPI's general request handler.

FastAPI's handler of 0.165 resolves every parameter through its general
machinery (``solve_dependencies``, telemetry hooks, exit stacks for
dependencies that yield) on every request: for a status query it took about
as much CPU as the query itself. A :class:`DirectRoute` looks at its endpoint
once, when the route is made; if every parameter is of a plain kind (path
parameters, one JSON body model, dependencies that take only the request), it
answers a request by validating those parameters with the very fields FastAPI
built for them and calling the endpoint. Anything else (an endpoint of another
shape, a request whose parameters do not validate, a body that is not plain
JSON) goes to FastAPI's own handler, so every error answer is FastAPI's.
See ``docs/performance.md``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, get_type_hints

import fastapi.routing
import orjson
from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

Handler = Callable[[Request], Coroutine[Any, Any, Response]]
Dependency = Callable[[Request], Awaitable[Any]]
JSON_TYPES = frozenset({"application/json"})


@dataclass(frozen=True)
class Plan:
    """How a route reads a request: its path fields, its body field, its dependencies."""

    path: tuple[Any, ...]  # FastAPI's ModelFields of the path parameters
    body: Any | None  # the ModelField of the one JSON body model, if any
    dependencies: tuple[tuple[str, Dependency], ...]
    call: Callable[..., Awaitable[Response]]
    overrides: Any | None  # the app, whose ``dependency_overrides`` send requests to FastAPI


def _plain_dependency(dep: Dependant) -> Dependency | None:
    """``dep.call`` if it is a coroutine function taking only the request, else None."""
    if (
        dep.name is None
        or dep.request_param_name is None
        or dep.dependencies
        or dep.path_params
        or dep.query_params
        or dep.header_params
        or dep.cookie_params
        or dep.body_params
        or dep.response_param_name
        or dep.background_tasks_param_name
        or dep.security_scopes_param_name
        or dep.websocket_param_name
        or dep.http_connection_param_name
        or not inspect.iscoroutinefunction(dep.call)
    ):
        return None
    return dep.call


def _returns_response(call: Callable[..., Any]) -> bool:
    try:
        returned = get_type_hints(call).get("return")
    except (NameError, TypeError):
        return False
    return inspect.isclass(returned) and issubclass(returned, Response)


def plan_of(route: Any) -> Plan | None:
    """The plan of a route of a plain shape, or None (FastAPI's handler serves it).

    ``route`` is an :class:`APIRoute` or, for a route of an included router,
    FastAPI's context of that inclusion (its prefix and added dependencies)."""
    d = getattr(route, "dependant", None)
    embedded = getattr(route, "_embed_body_fields", None)
    if not isinstance(d, Dependant) or not isinstance(embedded, bool):
        return None  # a FastAPI whose routes this module does not know
    call = d.call
    if (
        call is None
        or not inspect.iscoroutinefunction(call)
        or not _returns_response(call)
        or d.query_params
        or d.header_params
        or d.cookie_params
        or d.request_param_name
        or d.response_param_name
        or d.background_tasks_param_name
        or d.security_scopes_param_name
        or d.websocket_param_name
        or d.http_connection_param_name
        or len(d.body_params) > 1
        or embedded
    ):
        return None
    body = d.body_params[0] if d.body_params else None
    if body is not None and not (
        type(body.field_info) is params.Body
        and not getattr(body.field_info, "embed", False)
        and inspect.isclass(body.field_info.annotation)
        and issubclass(body.field_info.annotation, BaseModel)
    ):
        return None
    deps = [(dep.name, _plain_dependency(dep)) for dep in d.dependencies]
    if any(fn is None or name is None for name, fn in deps):
        return None
    plain = tuple((name, fn) for name, fn in deps if name is not None and fn is not None)
    overrides = getattr(route, "dependency_overrides_provider", None)
    return Plan(tuple(d.path_params), body, plain, call, overrides)


def _is_json(request: Request) -> bool:
    kind = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    return kind in JSON_TYPES


def _read_path(plan: Plan, request: Request, values: dict[str, Any]) -> bool:
    """Put the path parameters in ``values``; False if one does not validate."""
    given = request.path_params
    for field in plan.path:
        value, errors = field.validate(given.get(field.alias), values, loc=("path", field.alias))
        if errors:
            return False
        values[field.name] = value
    return True


async def _read_body(body: Any, request: Request, values: dict[str, Any]) -> bool:
    """Put the body model in ``values``; False unless it is plain, valid JSON."""
    raw = await request.body()
    if not raw or not _is_json(request):
        return False
    try:
        decoded = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return False
    value, errors = body.validate(decoded, values, loc=("body",))
    if errors:
        return False
    values[body.name] = value
    return True


async def _solve(plan: Plan, request: Request, values: dict[str, Any]) -> None:
    solved: dict[Dependency, Any] = {}
    for name, dependency in plan.dependencies:
        if dependency not in solved:  # as FastAPI: one call per dependency and request
            solved[dependency] = await dependency(request)
        values[name] = solved[dependency]


async def _read(plan: Plan, request: Request) -> dict[str, Any] | None:
    """The endpoint's arguments but for dependencies, or None for FastAPI's handler."""
    if plan.overrides is not None and getattr(plan.overrides, "dependency_overrides", None):
        return None
    values: dict[str, Any] = {}
    if not _read_path(plan, request, values):
        return None
    if plan.body is not None and not await _read_body(plan.body, request, values):
        return None
    return values


def direct_handler(plan: Plan, general: Handler) -> Handler:
    """A handler that serves plain requests by ``plan`` and hands the rest to ``general``."""

    async def handle(request: Request) -> Response:
        values = await _read(plan, request)
        if values is None:
            return await general(request)
        await _solve(plan, request, values)
        return await plan.call(**values)

    return handle


class DirectRoute(APIRoute):
    """An :class:`~fastapi.routing.APIRoute` that serves plain requests directly (see above)."""

    def get_route_handler(self) -> Handler:
        general = super().get_route_handler()
        plan = plan_of(self._effective())
        return general if plan is None else direct_handler(plan, general)

    def _effective(self) -> Any:
        """As FastAPI's ``get_route_handler``: the inclusion being built, if it is of this route."""
        var = getattr(fastapi.routing, "_effective_route_context_var", None)
        context = var.get() if var is not None else None
        if context is not None and getattr(context, "original_route", None) is self:
            return context
        return self
