"""The in-memory registry of dynamic endpoints: path templates, compiled specs and the route tree.

Path templates live under `PREFIX` and are made of literal segments (`[A-Za-z0-9._~-]+`, except the dot segments
`.` and `..`, which clients resolve away) and typed parameters: `{name}` or `{name:str}` (any segment),
`{name:int}` (digits), `{name:uuid}`. A `collection` at P serves P and P/{id:int}; a `static` spec serves its own
path.

Matching walks a tree, one dict lookup per literal segment and at most two typed branches per level: its cost
depends on the path's length, never on how many specs there are. Two templates that could match one request are
a conflict (checked when a spec is saved), so at most one branch of the tree can match a segment, and a match is
never ambiguous. The one exception is static specs of different methods on the very same path: they share a node,
whose leaves are looked up by method.
"""

import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from app.features.dynamic_endpoints import jsonschemas

__all__ = [
    "COLLECTION_METHODS",
    "DOCUMENT_METHODS",
    "PREFIX",
    "CompiledSpec",
    "Leaf",
    "Segment",
    "Snapshot",
    "SpecData",
    "compile_spec",
    "conflicts",
    "parse_path",
    "templates_of",
]

PREFIX = "/api/v1/x/"
MAX_SEGMENTS = 8
COLLECTION_METHODS = frozenset({"GET", "POST"})
DOCUMENT_METHODS = frozenset({"GET", "PUT", "DELETE"})

type ParamType = Literal["int", "str", "uuid"]
type Role = Literal["static", "collection", "document"]

_LITERAL = re.compile(r"[A-Za-z0-9._~-]+")
_PARAM = re.compile(r"\{([a-z_][a-z0-9_]{0,31})(?::(int|str|uuid))?\}")
# Canonical decimals only: "01" and "1" would be two URLs of one document, and an edge cache keys by URL.
_DIGITS = re.compile(r"0|[1-9][0-9]{0,17}")


@dataclass(frozen=True, slots=True)
class Segment:
    """A literal segment (`param` None) or a typed parameter named `value`."""

    value: str
    param: ParamType | None = None

    def accepts(self, text: str) -> bool:
        """Whether a request's path segment matches this one."""
        if self.param is None:
            return text == self.value
        return _accepts(self.param, text)


def _accepts(param: ParamType, text: str) -> bool:
    if param == "str":
        return bool(text)
    if param == "int":
        return _DIGITS.fullmatch(text) is not None
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _convert(param: ParamType, text: str) -> int | str:
    return int(text) if param == "int" else text


def parse_path(path: str) -> tuple[tuple[Segment, ...], list[str]]:
    """The segments after `PREFIX`, and what is wrong with the template (empty when nothing)."""
    if not path.startswith(PREFIX):
        return (), [f"must start with {PREFIX}"]
    rest = path[len(PREFIX) :]
    parts = rest.split("/")
    if not rest or len(parts) > MAX_SEGMENTS:
        return (), [f"must have 1 to {MAX_SEGMENTS} segments after {PREFIX}"]
    segments: list[Segment] = []
    problems: list[str] = []
    for part in parts:
        if (param := _PARAM.fullmatch(part)) is not None:
            kind: ParamType = param.group(2) or "str"  # type: ignore[assignment]
            segments.append(Segment(param.group(1), kind))
        elif part in (".", ".."):  # clients and proxies resolve them away: the path would be another one
            problems.append(f"segment {part!r} is a dot segment")
        elif _LITERAL.fullmatch(part):
            segments.append(Segment(part))
        else:
            problems.append(f"segment {part!r} is neither a literal ([A-Za-z0-9._~-]+) nor {{name[:int|str|uuid]}}")
    names = [s.value for s in segments if s.param]
    if len(names) != len(set(names)):
        problems.append("parameter names must be unique")
    return tuple(segments), problems


def templates_of(kind: str, segments: tuple[Segment, ...]) -> list[tuple[Segment, ...]]:
    """The path templates a spec occupies: a collection also serves its documents at P/{id:int}."""
    if kind == "collection":
        return [segments, (*segments, Segment("id", "int"))]
    return [segments]


def _overlap(a: Segment, b: Segment) -> bool:
    if a.param is None and b.param is None:
        return a.value == b.value
    if a.param is None:
        return b.accepts(a.value)
    if b.param is None:
        return a.accepts(b.value)
    return a.param == b.param or "str" in (a.param, b.param)  # int and uuid never overlap


def conflicts(a: tuple[Segment, ...], b: tuple[Segment, ...]) -> bool:
    """Whether some request path matches both templates."""
    return len(a) == len(b) and all(_overlap(x, y) for x, y in zip(a, b, strict=True))


@dataclass(frozen=True, slots=True)
class SpecData:
    """A spec as stored: what compiling and exporting need, without the ORM."""

    id: int
    name: str
    path: str
    kind: str
    method: str | None
    auth: str
    summary: str
    request_schema: dict[str, Any] | None
    response_schema: dict[str, Any] | None
    example: Any
    version: int
    cacheable: bool = False

    @property
    def cache_namespace(self) -> str:
        return cache_namespace(self.id)


def cache_namespace(spec_id: int) -> str:
    """The response cache's namespace of a spec's reads: by id, so that a renamed or moved spec keeps it."""
    return f"endpoint:{spec_id}"


@dataclass(frozen=True, slots=True)
class CompiledSpec:
    """A stored spec ready to serve: validators built and the static body serialized once per version."""

    data: SpecData
    segments: tuple[Segment, ...]
    request_validator: jsonschemas.Validator | None
    response_validator: jsonschemas.Validator | None
    static_body: bytes | None

    @property
    def id(self) -> int:
        return self.data.id

    @property
    def name(self) -> str:
        return self.data.name


def compile_spec(data: SpecData) -> CompiledSpec:
    segments, _ = parse_path(data.path)  # saved specs were validated: the template is well formed
    return CompiledSpec(
        data=data,
        segments=segments,
        request_validator=jsonschemas.compile_validator(data.request_schema) if data.request_schema else None,
        response_validator=jsonschemas.compile_validator(data.response_schema) if data.response_schema else None,
        static_body=orjson.dumps(data.example) if data.kind == "static" else None,
    )


@dataclass(frozen=True, slots=True)
class Leaf:
    """What a template serves: the spec, the role of this template, its methods and its parameters' names."""

    spec: CompiledSpec
    role: Role
    methods: frozenset[str]
    template: str
    params: tuple[tuple[str, ParamType], ...]

    def convert(self, raw: Sequence[str]) -> dict[str, int | str]:
        return {name: _convert(kind, text) for (name, kind), text in zip(self.params, raw, strict=True)}


@dataclass(slots=True)
class _Node:
    literals: dict[str, "_Node"] = field(default_factory=dict)
    params: dict[ParamType, "_Node"] = field(default_factory=dict)
    leaves: dict[str, Leaf] = field(default_factory=dict)  # by method


def _insert(root: _Node, segments: tuple[Segment, ...], leaf: Leaf) -> None:
    node = root
    for segment in segments:
        if segment.param is None:
            node = node.literals.setdefault(segment.value, _Node())
        else:
            node = node.params.setdefault(segment.param, _Node())
    node.leaves.update(dict.fromkeys(leaf.methods, leaf))


def _leaves(spec: CompiledSpec) -> Iterable[tuple[tuple[Segment, ...], Leaf]]:
    data = spec.data
    for segments in templates_of(data.kind, spec.segments):
        if data.kind == "static":
            role: Role = "static"
            methods = frozenset({data.method or "GET"})
        elif len(segments) == len(spec.segments):
            role, methods = "collection", COLLECTION_METHODS
        else:
            role, methods = "document", DOCUMENT_METHODS
        template = PREFIX + "/".join(s.value if s.param is None else "{" + s.value + "}" for s in segments)
        params = tuple((s.value, s.param) for s in segments if s.param is not None)
        yield segments, Leaf(spec=spec, role=role, methods=methods, template=template, params=params)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An immutable registry at one `version`; instances replace theirs whole, so readers never see a half."""

    version: int
    specs: tuple[CompiledSpec, ...]
    leaves: tuple[Leaf, ...]
    _root: _Node

    @classmethod
    def build(cls, version: int, specs: Iterable[CompiledSpec]) -> "Snapshot":
        ordered = tuple(sorted(specs, key=lambda s: s.data.path))
        root = _Node()
        leaves: list[Leaf] = []
        for spec in ordered:
            for segments, leaf in _leaves(spec):
                _insert(root, segments, leaf)
                leaves.append(leaf)
        return cls(version=version, specs=ordered, leaves=tuple(leaves), _root=root)

    def match(self, path: str) -> tuple[Mapping[str, Leaf], list[str]] | None:
        """The leaves serving `path` (a request path under PREFIX), by method, and the raw parameter values.

        Every leaf of one path has the same template: only static specs with the very same path share one."""
        return _match(self._root, path[len(PREFIX) :].split("/"), 0, [])


def _match(node: _Node, parts: list[str], index: int, raw: list[str]) -> tuple[Mapping[str, Leaf], list[str]] | None:
    # Depth-first: templates may share a prefix and part ways later (a/b/c beside a/{k}/d), so a literal that
    # matches here can still lead nowhere. Per level at most one literal and two typed branches accept a segment,
    # and there are at most MAX_SEGMENTS + 1 levels: the work is bounded whatever the number of specs.
    if index == len(parts):
        return (node.leaves, raw) if node.leaves else None
    text = parts[index]
    child = node.literals.get(text)
    if child is not None and (found := _match(child, parts, index + 1, raw)) is not None:
        return found
    for kind, candidate in node.params.items():
        if _accepts(kind, text) and (found := _match(candidate, parts, index + 1, [*raw, text])) is not None:
            return found
    return None
