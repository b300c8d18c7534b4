"""The RFC 9457 shape every error of the app has: problem+json, the answer's status, and the request's id."""

import httpx

__all__ = ["PROBLEM", "PROBLEM_KEYS", "assert_problem", "without_request"]

PROBLEM = "application/problem+json"
PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}
# The members that name the request a problem answers rather than the problem: two requests' problems may be equal
# but for these.
_PER_REQUEST = ("instance", "request_id")


def assert_problem(response: httpx.Response, status: int) -> dict[str, object]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, object] = response.json()
    assert body.keys() >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def without_request[V](body: dict[str, V]) -> dict[str, V]:
    """A problem's body without the members that are the request's own: for comparing two requests' problems."""
    return {key: value for key, value in body.items() if key not in _PER_REQUEST}
