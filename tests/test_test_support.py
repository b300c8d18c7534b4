"""The test suite's own rules: shared code lives in tests/support (a library), never in a conftest or a test module.

A test module that imports from `tests/conftest.py` or from another `test_*` module ties the suites together by
accident (importing a test module also collects its tests twice in the importer's namespace, and a conftest is
loaded by pytest, not meant to be imported). Reading a library's private attributes ties a test to the library's
internals, not its behaviour. Both are checked here on the source, with `ast`, so that the rules hold.
"""

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).parent

# Names with a leading underscore that are public API of their library, or our own objects' attributes.
PUBLIC_UNDERSCORED = {
    "_mapping": "SQLAlchemy's Row._mapping is documented public API (the underscore avoids column names)",
}
# Private attributes a module may still touch, each with its reason (a write, not a read, in a pytest hook).
ALLOWED_PRIVATE = {
    ("conftest.py", "_id"): "pytest exposes no way to name an item; schemathesis items need their own node ids",
    ("test_copier_template.py", "_drop_example_migrations"): "our own tool's function (tools/), not a library's",
}


def _is_test_support_violation(module: str) -> bool:
    parts = module.split(".")
    return parts[0] == "tests" and any(part == "conftest" or part.startswith("test_") for part in parts[1:])


def forbidden_imports(source: str) -> Iterator[str]:
    """The modules `source` imports that are a conftest or a test module of this suite."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if _is_test_support_violation(alias.name))
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative imports are banned by ruff; any of them would reach a sibling module
                yield f"{'.' * node.level}{node.module or ''}"
                continue
            module = node.module or ""
            if _is_test_support_violation(module):
                yield module
            else:  # `from tests import conftest`, `from tests.features.users import test_auth`
                names = (f"{module}.{alias.name}" for alias in node.names)
                yield from (name for name in names if _is_test_support_violation(name))


def private_attributes(source: str) -> Iterator[str]:
    """The `_private` attributes `source` reads or writes on anything but `self` and `cls`."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in {"self", "cls"}:
                continue
            if node.attr not in PUBLIC_UNDERSCORED:
                yield node.attr


def _modules() -> list[Path]:
    return sorted(path for path in TESTS.rglob("*.py") if "__pycache__" not in path.parts)


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(TESTS)))
def test_no_module_imports_a_conftest_or_another_test_module(path: Path) -> None:
    assert list(forbidden_imports(path.read_text())) == []


@pytest.mark.parametrize("path", _modules(), ids=lambda path: str(path.relative_to(TESTS)))
def test_no_module_touches_a_private_attribute_of_another_object(path: Path) -> None:
    relative = str(path.relative_to(TESTS))
    found = [
        attribute for attribute in private_attributes(path.read_text()) if (relative, attribute) not in ALLOWED_PRIVATE
    ]
    assert found == []


@pytest.mark.parametrize(
    "source",
    [
        "from tests.conftest import make_settings",
        "import tests.conftest",
        "from tests import conftest",
        "from tests.features.users.test_auth import assert_problem",
        "from tests.features.users import test_auth",
        "import tests.core.test_problems as problems",
        "from .test_admin_api import static",
    ],
)
def test_the_import_rule_catches_every_spelling(source: str) -> None:
    assert list(forbidden_imports(source))


def test_the_import_rule_lets_the_support_library_through() -> None:
    source = "from tests import helpers\nfrom tests.support.settings import make_settings\nimport tests.support.otlp"
    assert list(forbidden_imports(source)) == []


def test_the_private_attribute_rule_catches_reads_on_other_objects_only() -> None:
    source = "pool = client._transport._pool\nself._lock = 1\nrow._mapping\nx.__class__"
    assert list(private_attributes(source)) == ["_pool", "_transport"]
