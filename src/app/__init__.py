"""ForgeAPI: a production-ready FastAPI service foundation."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("forgeapi")
except PackageNotFoundError:  # pragma: no cover - code without its dist metadata (docs/deployment.md, Lambda)
    __version__ = "0.0.0"

__all__ = ["__version__"]
