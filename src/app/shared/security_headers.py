"""`SecurityHeaders`: the headers every answer carries (OWASP's secure headers), and a strict CSP but on the docs
pages, which run scripts and get a policy of their own (`app.shared.api_docs`)."""

from collections.abc import Mapping

from app.shared.pipeline import RawHeaders, RequestCycle, RequestUnit

__all__ = ["STRICT_CSP", "SecurityHeaders"]

STRICT_CSP = b"default-src 'none'; frame-ancestors 'none'"


class SecurityHeaders(RequestUnit):
    def __init__(self, *, hsts: bool, docs_policies: Mapping[str, bytes]) -> None:
        """`hsts`: where TLS is promised (production). `docs_policies`: each docs page's path and its CSP."""
        self.always: RawHeaders = [
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-resource-policy", b"same-origin"),
        ]
        if hsts:
            self.always.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))
        self.strict: RawHeaders = [*self.always, (b"content-security-policy", STRICT_CSP)]
        self.docs: dict[str, RawHeaders] = {
            path: [*self.always, (b"content-security-policy", policy)] for path, policy in docs_policies.items()
        }

    def for_path(self, path: str) -> RawHeaders:
        return self.docs.get(path, self.strict)

    def response_headers(self, cycle: RequestCycle, headers: RawHeaders) -> None:
        headers.extend(self.docs.get(cycle.scope["path"], self.strict))
