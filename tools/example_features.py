"""ForgeAPI's example features, products and orders, and everything outside them that names them: what
tools/init_project.py removes from a project made with copier's `example_features` answered false.

The slices, their tests, their migration (marked with MIGRATION_MARKER; the next revision is pointed at its
parent) and the benchmarks that drive them are deleted; the lines that register or mention them elsewhere are
edited out. Every edit must find exactly what it expects and fails loudly otherwise: tools/check_template.py makes
a project without the examples on every CI run, so a template change that moves one of these lines fails CI rather
than leaving a project that half-mentions the examples. A project that has them no more is left as it is, so that
the task may run again (`copier update` runs it on every copy it renders).

Standard library only, like init_project.py: the new project has no virtual environment yet.
"""

import re
import shutil
from pathlib import Path

__all__ = ["MIGRATION_MARKER", "remove_example_features"]

MIGRATION_MARKER = "# forge: example features"
EXAMPLE_MODULES = ("app.features.products", "app.features.orders")
_PRESENT = Path("src/app/features/products")

DELETED = [
    "src/app/features/products",
    "src/app/features/orders",
    "tests/features/products",
    "tests/features/orders",
    "tests/test_load_with_faults.py",  # benchmarks.faults places orders
    # Benchmarks that seed products or place orders; ratelimit and dynamic_endpoints stay.
    "benchmarks/__main__.py",
    "benchmarks/harness.py",
    "benchmarks/_baseline.py",
    "benchmarks/plain_read.py",
    "benchmarks/_core_reads.py",
    "benchmarks/_peer_cached.py",
    "benchmarks/_report.py",
    "benchmarks/_chart.py",
    "tests/test_benchmark_report.py",  # the harness's report and chart
    "benchmarks/serialization.py",
    "benchmarks/tracing.py",
    "benchmarks/faults.py",
    "benchmarks/_traffic.py",
    "benchmarks/_faults_report.py",
    "benchmarks/cache_staleness.py",  # changes a product's price
    "benchmarks/pagination_depth.py",  # pages through a million products
    "benchmarks/instructions.py",  # counts product reads
]

# Lines, each found exactly once by its start, that register or name the examples.
LINES: dict[str, list[str]] = {
    "src/app/main.py": [
        "from app.features.orders.router import router as orders_router",
        "from app.features.orders.service import daily_series as orders_daily_series",
        "from app.features.orders.admin import section as orders_console",
        "from app.features.products.admin import section as products_console",
        "from app.features.products.router import router as products_router",
        "        products_router,",
        "        products_console,",
        "        orders_console,",
        "        orders_router,",
        "            orders_daily_series,",
    ],
    "src/app/models.py": [
        "from app.features.orders.models import Order, OrderItem",
        "from app.features.products.models import Product",
        '    "Order",',
        '    "OrderItem",',
        '    "Product",',
    ],
    "src/app/features/api_keys/models.py": [
        '    PRODUCTS_WRITE = "products:write"',
        '    ORDERS_READ = "orders:read"',
        '    ORDERS_WRITE = "orders:write"',
    ],
    "tests/test_owasp_api_top10.py": [
        '    ("GET", "/api/v1/products"): "public",',
        '    ("POST", "/api/v1/products"): "admin",',
        '    ("GET", "/api/v1/products/{product_id}"): "public",',
        '    ("PATCH", "/api/v1/products/{product_id}"): "admin",',
        '    ("DELETE", "/api/v1/products/{product_id}"): "admin",',
        '    ("POST", "/api/v1/orders"): "user",',
        '    ("GET", "/api/v1/orders"): "user",',
        '    ("GET", "/api/v1/orders/{order_id}"): "user",',
        '    ("POST", "/api/v1/orders/{order_id}/cancel"): "user",',
        '    ("GET", "/api/v1/admin/orders"): "admin",',
        '    ("PATCH", "/api/v1/admin/orders/{order_id}"): "admin",',
    ],
    "tests/test_fuzz.py": ["    _seed_examples(client, admin)"],
}

# Top-level definitions (`def name(` or `class Name(`), up to the next top-level line.
DEFINITIONS: dict[str, list[str]] = {
    "tests/test_fuzz.py": ["def _seed_examples("],
}

README_NOTE = """\
This project was made without ForgeAPI's example features, products and orders (copier's `example_features`
question): their endpoints, tables, tests and benchmarks are not here, nor the test that loads the service with
faults (its traffic places orders). Where the documents under docs/ use products and orders as examples, or report
measurements made with them (docs/performance.md), they describe ForgeAPI's. The infrastructure those features
exercised (idempotency keys, edge caching, API-key scopes, business spans, pages) is here, and its tests drive a
resource of the tests' own (tests/support/counters.py).
"""

# Text, each found exactly once, and what it becomes.
REPLACED: dict[str, list[tuple[str, str]]] = {
    "src/app/features/api_keys/service.py": [
        ("ADMIN_ONLY_SCOPES = frozenset({Scope.PRODUCTS_WRITE})", "ADMIN_ONLY_SCOPES: frozenset[Scope] = frozenset()"),
    ],
    "README.md": [("\n## Quick start\n", f"\n## Without the example features\n\n{README_NOTE}\n## Quick start\n")],
}


README_BENCHMARKS = """\
## Benchmarks

`uv run python -m benchmarks.ratelimit` and `uv run python -m benchmarks.dynamic_endpoints` measure one concern each
(they need `wrk`). ForgeAPI's other benchmarks drive its example features, which this project was made without;
docs/performance.md reports what they measured.
"""

# Markdown sections (from a heading to the next heading of its level) and what replaces them.
SECTIONS: dict[str, list[tuple[str, str]]] = {
    "docs/api.md": [("## The example features: products and orders", "")],
    "README.md": [("## Benchmarks", README_BENCHMARKS)],
}


def _edit(path: Path, old: str, new: str, *, what: str) -> None:
    text = path.read_text(encoding="utf-8")
    if text.count(old) != 1:
        msg = f"{path}: expected {what} exactly once; update tools/example_features.py with the template"
        raise SystemExit(msg)
    path.write_text(text.replace(old, new), encoding="utf-8")


def _match_once(path: Path, pattern: str, *, what: str) -> re.Match[str]:
    matches = list(re.finditer(pattern, path.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL))
    if len(matches) != 1:
        msg = f"{path}: expected {what} exactly once; update tools/example_features.py with the template"
        raise SystemExit(msg)
    return matches[0]


def _delete_match(path: Path, pattern: str, *, what: str, replacement: str = "") -> None:
    match = _match_once(path, pattern, what=what)
    text = path.read_text(encoding="utf-8")
    path.write_text(text[: match.start()] + replacement + text[match.end() :], encoding="utf-8")


def _edit_sources(root: Path) -> None:
    for name, lines in LINES.items():
        for line in lines:
            _delete_match(root / name, rf"^{re.escape(line)}[^\n]*\n", what=f"the line {line!r}")
    for name, definitions in DEFINITIONS.items():
        for start in definitions:
            _delete_match(root / name, rf"^{re.escape(start)}.*?(?=^\S)", what=f"the definition {start!r}")
    for name, replacements in REPLACED.items():
        for old, new in replacements:
            _edit(root / name, old, new, what=repr(old[:60]))
    for name, sections in SECTIONS.items():
        for heading, replacement in sections:
            level = heading.split(" ", 1)[0]
            pattern = rf"^{re.escape(heading)}\n.*?(?=^{level} |\Z)"
            _delete_match(root / name, pattern, what=f"the section {heading!r}", replacement=replacement)


def _header(text: str, name: str) -> str | None:
    match = re.search(rf'^{name}: str(?: \| None)? = "(\w+)"$', text, re.MULTILINE)
    return match.group(1) if match else None


def _drop_example_migrations(versions: Path) -> None:
    """Delete the marked migrations; whichever revision followed one now follows that one's parent."""
    scripts = {path: path.read_text(encoding="utf-8") for path in sorted(versions.glob("*.py"))}
    for path in list(scripts):
        text = scripts[path]  # as relinked so far: a marked migration may follow another
        if not re.search(rf"^{re.escape(MIGRATION_MARKER)}\b", text, re.MULTILINE):
            continue
        revision, parent = _header(text, "revision"), _header(text, "down_revision")
        if revision is None or parent is None:
            msg = f"{path}: an example migration needs one revision and one down_revision, as plain strings"
            raise SystemExit(msg)
        del scripts[path]
        path.unlink()
        for other, other_text in scripts.items():
            if _header(other_text, "down_revision") != revision:
                if re.search(rf"^(down_revision|depends_on)\b.*\b{revision}\b", other_text, re.MULTILINE):
                    msg = f"{other} depends on the example revision {revision} other than as its one down_revision"
                    raise SystemExit(msg)
                continue
            down = rf'^(down_revision: str \| None = )"{revision}"$'
            relinked = re.sub(down, rf'\g<1>"{parent}"', other_text, flags=re.MULTILINE)
            scripts[other] = re.sub(rf"^Revises: {revision}$", f"Revises: {parent}", relinked, flags=re.MULTILINE)
            other.write_text(scripts[other], encoding="utf-8")


def _is_example_edge(line: str) -> bool:
    return " -> " in line and any(module in line for module in EXAMPLE_MODULES)


def _drop_contracts(pyproject: Path) -> None:
    """import-linter: the contracts name features by wildcard, but for the allowed edges between features. The
    examples' edges go, and the comment above them when every edge it explains has gone."""
    kept: list[str] = []
    group: list[str] = []  # an indented comment and the edges under it, up to the next such comment

    def flush() -> None:
        edges = [line for line in group if line.lstrip().startswith('"')]
        if not edges or not all(map(_is_example_edge, edges)):
            kept.extend(line for line in group if not _is_example_edge(line))
        group.clear()

    for line in pyproject.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith("    #"):
            if any(member.lstrip().startswith('"') for member in group):
                flush()
            group.append(line)
        elif line.startswith('    "'):
            group.append(line)
        else:
            flush()
            kept.append(line)
    flush()
    text = "".join(kept)
    if any(module in text for module in EXAMPLE_MODULES):
        msg = f"{pyproject}: the example features are still named after removing their contracts"
        raise SystemExit(msg)
    pyproject.write_text(text, encoding="utf-8")


def remove_example_features(root: Path) -> bool:
    """Remove the example features from the project at `root`; False when it has none (nothing is changed)."""
    if not (root / _PRESENT).is_dir():
        return False
    _edit_sources(root)
    _drop_contracts(root / "pyproject.toml")
    _drop_example_migrations(root / "alembic" / "versions")
    for name in DELETED:
        path = root / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink()
    return True
