"""AWS Lambda stand-ins: API Gateway events as AWS sends them, a context object, and reading the responses.

The events follow the documented payloads: REST API proxy integration (v1, with `resource`, `multiValueHeaders`
and `requestContext.identity`) and HTTP API payload format 2.0 (`rawPath`, `rawQueryString`, `cookies`,
`requestContext.http`). Field values are the ones AWS's own samples use.
"""

import base64
import itertools
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlencode

from mangum.types import LambdaCognitoIdentity, LambdaMobileClientContext

__all__ = ["ApiFormat", "FakeContext", "body_bytes", "event", "header"]

type ApiFormat = Literal["rest-v1", "http-v2"]
ACCOUNT = "123456789012"
API_ID = "r3pmxmplak"
DOMAIN = f"{API_ID}.execute-api.eu-west-1.amazonaws.com"
SOURCE_IP = "203.0.113.7"
USER_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0"
_request_ids = itertools.count(1)


@dataclass
class FakeContext:
    """The `context` argument of a Python Lambda handler (awslambdaric's LambdaContext attributes)."""

    function_name: str = "forgeapi"
    function_version: str = "$LATEST"
    invoked_function_arn: str = f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:forgeapi"
    memory_limit_in_mb: int = 512
    aws_request_id: str = field(default_factory=lambda: f"c6af9ac6-7b61-11e6-9a41-93e8{next(_request_ids):08d}")
    log_group_name: str = "/aws/lambda/forgeapi"
    log_stream_name: str = "2025/03/10/[$LATEST]e0b7c1d3e4f5a6b7c8d9e0f1a2b3c4d5"
    identity: LambdaCognitoIdentity | None = None
    client_context: LambdaMobileClientContext | None = None

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def _body(body: bytes | None, *, base64_encoded: bool) -> str | None:
    if body is None:
        return None
    return base64.b64encode(body).decode() if base64_encoded else body.decode()


def _rest_v1(
    method: str, path: str, headers: dict[str, str], query: dict[str, str], *, body: str | None, base64_encoded: bool
) -> dict[str, Any]:
    request_id = f"c6af9ac6-7b61-11e6-9a41-93e8{next(_request_ids):08d}"
    headers = {"-".join(part.capitalize() for part in name.split("-")): value for name, value in headers.items()}
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {name: [value] for name, value in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {name: [value] for name, value in query.items()} or None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourceId": "2gxmpl",
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "extendedRequestId": "JJbxmHEHoAMFH7g=",
            "requestTime": "10/Mar/2025:21:49:03 +0000",
            "path": f"/prod{path}",
            "accountId": ACCOUNT,
            "protocol": "HTTP/1.1",
            "stage": "prod",
            "domainPrefix": API_ID,
            "requestTimeEpoch": 1741643343000,
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": SOURCE_IP,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": USER_AGENT,
                "user": None,
            },
            "domainName": DOMAIN,
            "deploymentId": "tsmxmpl",
            "apiId": API_ID,
        },
        "body": body,
        "isBase64Encoded": base64_encoded,
    }


def _http_v2(
    method: str, path: str, headers: dict[str, str], query: dict[str, str], *, body: str | None, base64_encoded: bool
) -> dict[str, Any]:
    lowered = {name.lower(): value for name, value in headers.items()}
    cookies = lowered.pop("cookie", None)
    payload: dict[str, Any] = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": urlencode(query),
        "headers": lowered,
        "requestContext": {
            "accountId": ACCOUNT,
            "apiId": API_ID,
            "domainName": DOMAIN,
            "domainPrefix": API_ID,
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": SOURCE_IP,
                "userAgent": USER_AGENT,
            },
            "requestId": f"JKJaXmPLvHcESHA={next(_request_ids)}",
            "routeKey": "$default",
            "stage": "$default",
            "time": "10/Mar/2025:21:49:03 +0000",
            "timeEpoch": 1741643343000,
        },
        "isBase64Encoded": base64_encoded,
    }
    if query:
        payload["queryStringParameters"] = query
    if cookies:
        payload["cookies"] = cookies.split("; ")
    if body is not None:
        payload["body"] = body
    return payload


def event(
    api: ApiFormat,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: bytes | None = None,
    base64_encoded: bool = False,
) -> dict[str, Any]:
    """An API Gateway proxy event for `method path`, with the headers every request through API Gateway carries."""
    all_headers = {
        "accept": "*/*",
        "host": DOMAIN,
        "user-agent": USER_AGENT,
        "x-amzn-trace-id": "Root=1-67cf5f4f-4f5a6b7c8d9e0f1a2b3c4d5e",
        "x-forwarded-for": SOURCE_IP,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        **(headers or {}),
    }
    if body is not None:
        all_headers["content-length"] = str(len(body))
    build = _rest_v1 if api == "rest-v1" else _http_v2
    encoded = _body(body, base64_encoded=base64_encoded)
    return build(method, path, all_headers, query or {}, body=encoded, base64_encoded=base64_encoded)


def body_bytes(response: dict[str, Any]) -> bytes:
    """The response body as the client receives it (API Gateway decodes base64 bodies)."""
    body: str = response.get("body", "")
    return base64.b64decode(body) if response["isBase64Encoded"] else body.encode()


def header(response: dict[str, Any], name: str) -> str | None:
    """A response header, from `headers` or (REST API) `multiValueHeaders`."""
    value: str | None = (response.get("headers") or {}).get(name)
    if value is None:
        values = (response.get("multiValueHeaders") or {}).get(name)
        value = ", ".join(values) if values else None
    return value
