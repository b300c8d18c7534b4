"""ForgeAPI: a production-ready FastAPI service foundation.

The service's identity, for everything that names it: DISTRIBUTION and TITLE are written by tools/init_project.py
in a project made from the template; the description and version are the installed distribution's metadata, so
pyproject.toml is where they are changed.
"""

from importlib.metadata import PackageNotFoundError, metadata

# The project's name in pyproject.toml: the service's name (JWT issuer and audience, OpenTelemetry's service.name).
DISTRIBUTION = "forgeapi"
# The service's name for people: the API docs' title, /api/v1/config's `name`, `forge --help`.
TITLE = "ForgeAPI"

try:
    _metadata = metadata(DISTRIBUTION)
    __version__: str = _metadata["Version"]
    DESCRIPTION: str = _metadata.get("Summary", "")
except PackageNotFoundError:  # pragma: no cover - code without its dist metadata (docs/deployment.md, Lambda)
    __version__ = "0.0.0"
    DESCRIPTION = ""

__all__ = ["DESCRIPTION", "DISTRIBUTION", "TITLE", "__version__"]
