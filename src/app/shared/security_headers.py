"""`SecurityHeaders`: the headers every answer carries (OWASP's secure headers), and a strict CSP but on the docs
pages, which run scripts and get a policy of their own (`app.shared.api_docs`), and under the admin console's
prefix, whose pages get the console's policy (`app.shared.console`)."""

from collections.abc import Mapping

from app.shared.pipeline import RawHeaders, RequestCycle, RequestUnit

__all__ = ["STRICT_CSP", "SecurityHeaders"]

STRICT_CSP = b"default-src 'none'; frame-ancestors 'none'"


class SecurityHeaders(RequestUnit):
    def __init__(
        self, *, hsts: bool, docs_policies: Mapping[str, bytes], prefix_policies: Mapping[str, bytes] | None = None
    ) -> None:
        """`hsts`: where TLS is promised (production). `docs_policies`: each docs page's path and its CSP.
        `prefix_policies`: a path prefix (`/admin`) and the CSP of every path under it."""
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
        self.prefixed: list[tuple[str, RawHeaders]] = [
            (prefix.rstrip("/") + "/", [*self.always, (b"content-security-policy", policy)])
            for prefix, policy in (prefix_policies or {}).items()
        ]

    def for_path(self, path: str) -> RawHeaders:
        found = self.docs.get(path)
        if found is not None:
            return found
        for prefix, prefixed in self.prefixed:
            if path.startswith(prefix) or path == prefix[:-1]:
                return prefixed
        return self.strict

    def response_headers(self, cycle: RequestCycle, headers: RawHeaders) -> None:
        headers.extend(self.for_path(cycle.scope["path"]))
