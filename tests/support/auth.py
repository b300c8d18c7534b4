"""Assertions about the users feature's answers: problems as the auth endpoints return them, and a user's keys.

Stricter than `tests.helpers.problem`: the problem's `instance` is the request's path, and its title and detail are
non-empty text.
"""

from collections.abc import Mapping
from typing import Any

import httpx

__all__ = [
    "ME",
    "PROBLEM",
    "PROBLEM_KEYS",
    "USER_READ_KEYS",
    "assert_problem",
    "assert_unauthenticated",
    "error_pointers",
]

PROBLEM = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}
USER_READ_KEYS = {
    "id",
    "email",
    "full_name",
    "phone",
    "role",
    "is_active",
    "email_verified",
    "pending_email",
    "created_at",
}
ME = "/api/v1/users/me"


def assert_problem(response: httpx.Response, status: int, *, slug: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem with the given status (and `type` slug), for the request's path."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["instance"] == response.request.url.path
    assert isinstance(body["title"], str)
    assert body["title"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    if slug is not None:
        assert body["type"] == f"urn:forgeapi:problem:{slug}"
    return body


def assert_unauthenticated(response: httpx.Response) -> dict[str, Any]:
    body = assert_problem(response, 401, slug="unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"
    return body


def error_pointers(body: Mapping[str, Any]) -> set[str]:
    errors = body["errors"]
    assert isinstance(errors, list)
    assert errors
    return {str(e["pointer"]) for e in errors}
