"""The label values of the HTTP metrics, each from a bounded set whatever clients send (the package docstring)."""

from collections.abc import Iterable, Mapping
from http import HTTPMethod, HTTPStatus
from typing import Any

from starlette.routing import BaseRoute, Mount, Route

__all__ = [
    "KNOWN_METHODS",
    "METHOD_LABELS",
    "OTHER_METHOD",
    "OTHER_STATUS",
    "ROUTE_TEMPLATE_STATE",
    "STATUS_LABEL",
    "STATUS_LABELS",
    "route_template",
]

UNMATCHED = "unmatched"
OTHER_METHOD = "OTHER"
OTHER_STATUS = "other"
# Methods are case-sensitive (RFC 9110 section 9.1): `get` is not GET, and counts as OTHER.
KNOWN_METHODS = frozenset(method.value for method in HTTPMethod)
METHOD_LABELS = KNOWN_METHODS | {OTHER_METHOD}
CLIENT_GONE = 499  # nginx's code for a client that closed the connection before any answer; not registered
_REGISTERED = {status.value for status in HTTPStatus} | {CLIENT_GONE}
# Every status of the five classes RFC 9110 defines, mapped to its label ahead of time, so that a request pays one
# dict lookup and no Python call for it (the per-request cost of metrics: docs/performance.md).
STATUS_LABEL = {status: str(status) if status in _REGISTERED else f"{status // 100}xx" for status in range(100, 600)}
STATUS_LABELS = frozenset(STATUS_LABEL.values()) | {OTHER_STATUS}
# A route that dispatches further (the dynamic endpoints' catch-all) names the template it served here, in
# `scope["state"]`: its own template would lump every dynamic endpoint together.
ROUTE_TEMPLATE_STATE = "route_template"


def route_template(
    scope: Mapping[str, Any], api_prefix: str, plain: dict[int, tuple[object, str]] | None = None
) -> str:
    """The matched route's template. Routes included under the API prefix report their path without it.

    `plain` keeps the templates found for plain Starlette routes, by endpoint, from one call to the next.
    """
    template = scope.get("state", {}).get(ROUTE_TEMPLATE_STATE)
    if isinstance(template, str):
        return template
    route = scope.get("route")
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return _plain_route_template(scope, {} if plain is None else plain)
    if scope["path"].startswith(api_prefix) and not path.startswith(api_prefix):
        return api_prefix + path
    return path


# FastAPI's router puts `route` in the scope for its own routes only; a plain Starlette Route or Mount leaves just
# its `endpoint` (a Mount's is the mounted app). Its template is found once, by identity among the router's routes,
# and kept by the app's metrics: the endpoints are the routes' own objects, so that holds one entry per route.
def _plain_route_template(scope: Mapping[str, Any], known_templates: dict[int, tuple[object, str]]) -> str:
    endpoint = scope.get("endpoint")
    if endpoint is None:
        return UNMATCHED
    known = known_templates.get(id(endpoint))
    if known is not None and known[0] is endpoint:  # the id of a collected object may be reused
        return known[1]
    template = _find_template(getattr(scope.get("router"), "routes", ()), endpoint, "") or UNMATCHED
    known_templates[id(endpoint)] = (endpoint, template)
    return template


def _find_template(routes: Iterable[BaseRoute], endpoint: object, prefix: str) -> str | None:
    for route in routes:
        if isinstance(route, Mount):
            if route.app is endpoint:
                return prefix + route.path_format  # `/docs/static/{path}`
            found = _find_template(route.routes, endpoint, prefix + route.path)
            if found is not None:
                return found
        elif isinstance(route, Route) and route.endpoint is endpoint:
            return prefix + route.path_format
    return None
