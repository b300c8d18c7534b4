"""The Lambda package as docs/deployment.md builds it: the app imports from it and reports the project's version.

The documented commands run as written in a copy of the project, except the dependency download (it needs the
network and Lambda's platform): the test's own environment stands in for those packages. Without the project's
own distribution metadata in the package, `app.__version__` would read 0.0.0 there.
"""

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.support import processes

pytestmark = processes.HEAVY

ROOT = Path(__file__).resolve().parents[1]
_DEPENDENCY_STEPS = ("uv export ", "pip install -r ")
_PROJECT_FILES = ("pyproject.toml", "uv.lock", "README.md", "alembic.ini", "alembic", "src")


def documented_build() -> list[str]:
    text = (ROOT / "docs" / "deployment.md").read_text()
    section = text.split("## AWS Lambda", 1)[1]
    match = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert match is not None, "docs/deployment.md has no Lambda build"
    return [line for line in match.group(1).splitlines() if line.strip()]


def test_the_documented_lambda_package_reports_the_projects_version(tmp_path: Path) -> None:
    uv = processes.uv_or_skip("the documented Lambda build uses it")
    project = tmp_path / "project"
    for name in _PROJECT_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            project.mkdir(exist_ok=True)
            shutil.copy2(source, project / name)
    env = {n: v for n, v in os.environ.items() if not n.startswith("FORGE_") and n not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = f"{Path(uv).parent}{os.pathsep}{env.get('PATH', '')}"
    env["UV_PYTHON"] = sys.executable  # the interpreter the package targets (3.12, as Lambda's runtime)
    (project / "package").mkdir()  # where the skipped dependency install would have put the dependencies
    for line in documented_build():
        if line.startswith(_DEPENDENCY_STEPS):
            continue
        command = ["/bin/sh", "-c", line]  # the documentation's own command
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, check=False)  # noqa: S603
        assert done.returncode == 0, f"{line}\n{done.stderr}"

    package = project / "package"
    # The function's PYTHONPATH, as documented; the test's site-packages come after it, as Lambda's runtime does.
    env["PYTHONPATH"] = f"{package / 'src'}{os.pathsep}{package}"
    probe = (
        "import importlib.metadata as m, app, app.core.migrations as mig; "
        "print(app.__version__); print(app.__file__); print(m.distribution(app.DISTRIBUTION).locate_file('')); "
        "print(mig.PROJECT_ROOT)"
    )
    done = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False)  # noqa: S603
    assert done.returncode == 0, done.stderr
    version, module, metadata, project_root = done.stdout.split()
    assert version == tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert Path(module).is_relative_to(package / "src")  # the code runs from src/, not from an installed copy
    assert Path(metadata) == package  # the version came from the package, not from this checkout's install
    assert Path(project_root) == package
    assert (package / "alembic" / "env.py").exists()
    assert not (package / "app").exists()
