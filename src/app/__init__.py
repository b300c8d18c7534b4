"""ForgeAPI: a production-ready FastAPI service foundation."""

from importlib.metadata import PackageNotFoundError, version

# The project's name in pyproject.toml, whose installed metadata carries the version; tools/init_project.py renames
# it with the project.
DISTRIBUTION = "forgeapi"

try:
    __version__ = version(DISTRIBUTION)
except PackageNotFoundError:  # pragma: no cover - code without its dist metadata (docs/deployment.md, Lambda)
    __version__ = "0.0.0"

__all__ = ["DISTRIBUTION", "__version__"]
