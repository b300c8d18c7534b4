"""The container image and the compose stack, checked without a Docker engine.

The files are parsed and cross-checked (every COPY in the build context, every service healthy-checked, every
pipeline component defined). Then the image's build stage is replayed with uv into a folder standing in for the
image, and the image's own command runs from it, with the image's environment: it must serve `/healthz`, pass the
image's HEALTHCHECK, and stop cleanly on the image's STOPSIGNAL.
"""

import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from app.config import Settings
from tests.support import processes
from tests.support.container import DockerIgnore, Stage, in_root, parse_dockerfile, replay_build_stage
from tests.support.settings import PRODUCTION_SECRETS

pytestmark = processes.HEAVY

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
STAGES = parse_dockerfile((DOCKER / "Dockerfile").read_text())
IGNORE = DockerIgnore((ROOT / ".dockerignore").read_text())


def stage(name: str) -> Stage:
    return next(stage for stage in STAGES if stage.name == name)


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    return loaded


def collector_config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DOCKER / "otel-collector.yaml").read_text())
    return loaded


# --- Dockerfile ----------------------------------------------------------------------------------------------------


def test_builder_and_runtime_share_the_slim_python_and_only_the_builder_has_uv() -> None:
    builder, runtime = stage("builder"), stage("runtime")
    assert builder.base == runtime.base == "python:3.12-slim"
    assert stage("uv").base.startswith("ghcr.io/astral-sh/uv:")
    assert next(copy.flags.get("from") for copy in builder.all("COPY")) == "uv"
    assert {copy.flags.get("from") for copy in runtime.all("COPY")} == {"builder"}
    for run in runtime.all("RUN"):
        assert not any(tool in run.arguments for tool in ("apt-get", "uv ", "pip", "gcc", "build-essential"))


def test_dependencies_are_synced_from_the_lock_before_the_source_is_copied() -> None:
    steps = [(i.keyword, i.arguments) for i in stage("builder").instructions if i.keyword in ("RUN", "COPY")]
    runs = [index for index, (keyword, _) in enumerate(steps) if keyword == "RUN"]
    source = next(index for index, (keyword, arguments) in enumerate(steps) if "src" in arguments.split())
    assert steps[runs[0]][1].endswith("uv sync --frozen --no-dev --no-install-project")
    assert runs[0] < source < runs[1]
    assert steps[runs[1]][1].endswith("uv sync --frozen --no-dev")
    for run in stage("builder").all("RUN"):
        if "uv sync" in run.arguments:
            assert {"type": "cache", "target": "/root/.cache/uv"} in run.mounts


def test_the_projects_own_code_is_byte_compiled_after_it_is_installed() -> None:
    # UV_COMPILE_BYTECODE compiles site-packages only; the editable project and the migrations need their own step.
    runs = [run.arguments for run in stage("builder").all("RUN")]
    compiles = [index for index, arguments in enumerate(runs) if "-m compileall" in arguments]
    assert compiles, "src/ is not byte-compiled in the builder"
    assert compiles[-1] > max(index for index, arguments in enumerate(runs) if "uv sync" in arguments)
    assert {"src", "alembic"} <= set(runs[compiles[-1]].split())


def test_the_runtime_runs_forge_serve_unprivileged_in_production_and_stops_on_sigterm() -> None:
    runtime = stage("runtime")
    user = runtime.last("USER")
    assert user is not None
    assert user.arguments.split(":")[0] not in ("root", "0")
    env = runtime.env({"PATH": "/usr/local/bin:/usr/bin:/bin"})
    assert env["PATH"].startswith("/app/.venv/bin:")
    assert (env["FORGE_ENVIRONMENT"], env["FORGE_HOST"]) == ("production", "0.0.0.0")  # noqa: S104
    stop = runtime.last("STOPSIGNAL")
    assert stop is not None
    assert stop.arguments == "SIGTERM"
    cmd = runtime.last("CMD")
    assert cmd is not None
    assert cmd.exec_form == ["forge", "serve"]  # exec form: the server gets the signal, not a shell
    assert runtime.last("ENTRYPOINT") is None
    healthcheck = runtime.last("HEALTHCHECK")
    assert healthcheck is not None
    assert healthcheck.exec_form is not None
    assert healthcheck.exec_form[0] == "python"
    assert "/healthz" in healthcheck.exec_form[-1]


def test_every_copied_path_is_in_the_repository_and_the_build_context() -> None:
    sources: list[str] = []
    for build_stage in STAGES:
        for copy in build_stage.all("COPY"):
            if "from" not in copy.flags:
                sources += copy.arguments.split()[:-1]
        for run in build_stage.all("RUN"):
            sources += [mount["source"] for mount in run.mounts if mount["type"] == "bind"]
    assert {"pyproject.toml", "uv.lock", "src", "alembic", "alembic.ini"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not IGNORE.excludes(source), f"{source} is copied but .dockerignore leaves it out"
    assert not IGNORE.excludes("src/app/main.py")
    assert not IGNORE.excludes("alembic/versions/2025-01-01_x.py")


@pytest.mark.parametrize(
    "path", [".env", "var/encryption.keys", "var/app.db", ".git/config", ".venv/bin/python", "tests/conftest.py"]
)
def test_secrets_state_and_tooling_stay_out_of_the_build_context(path: str) -> None:
    assert IGNORE.excludes(path)


def test_bytecode_caches_stay_out_even_inside_copied_folders() -> None:
    assert IGNORE.excludes("src/app/__pycache__/main.cpython-312.pyc")
    assert IGNORE.excludes("src/app/core/database.pyc")


# --- compose ---------------------------------------------------------------------------------------------------------


def test_every_service_has_a_health_check_or_is_a_one_shot_job_awaited_by_the_app() -> None:
    services = compose()["services"]
    assert {"app", "worker", "migrate", "postgres", "redis", "otel-collector", "jaeger", "mailpit"} <= set(services)
    awaited = {name for name, dep in services["app"]["depends_on"].items()}
    for name, service in services.items():
        check = service.get("healthcheck")
        assert check is not None, f"{name} has no healthcheck"
        if check.get("disable"):
            assert name in awaited
            assert services["app"]["depends_on"][name]["condition"] == "service_completed_successfully"
        else:
            assert check["test"][0] in ("CMD", "CMD-SHELL")


def test_the_app_starts_after_the_migrations_and_on_healthy_databases() -> None:
    services = compose()["services"]
    depends = services["app"]["depends_on"]
    assert depends["migrate"] == {"condition": "service_completed_successfully"}
    assert depends["postgres"] == {"condition": "service_healthy"}
    assert depends["redis"] == {"condition": "service_healthy"}
    assert services["migrate"]["command"] == ["forge", "db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["migrate"]["image"] == services["app"]["image"]


def test_the_app_image_is_built_once_and_never_pulled() -> None:
    services = compose()["services"]
    image = services["app"]["image"]
    builders = [name for name, service in services.items() if "build" in service and service.get("image") == image]
    assert builders == ["app"]
    assert services["app"]["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert (DOCKER / services["app"]["build"]["context"] / services["app"]["build"]["dockerfile"]).exists()
    for name, service in services.items():
        if service.get("image") == image and name != "app":
            assert "build" not in service, name
            assert service.get("pull_policy") == "never", f"{name} would pull {image} from a registry"


def test_the_app_is_configured_for_the_stack_with_secrets_required_from_the_environment() -> None:
    env = compose()["services"]["app"]["environment"]
    assert env["FORGE_ENVIRONMENT"] == "production"
    assert "@postgres:5432/" in env["FORGE_DATABASE_URL"]
    assert env["FORGE_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert env["FORGE_REDIS_URL"].startswith("redis://redis:6379/")
    for secret in ("FORGE_SECRET_KEY", "FORGE_API_KEY_PEPPER", "FORGE_ENCRYPTION_KEYS", "FORGE_BLIND_INDEX_KEY"):
        assert env[secret].startswith(f"${{{secret}:?"), f"{secret} must be required, never defaulted"
    assert env["FORGE_OTEL_EXPORTER"] == "otlp"
    http_receiver = collector_config()["receivers"]["otlp"]["protocols"]["http"]["endpoint"]
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://otel-collector:{http_receiver.rsplit(':', 1)[1]}"


def test_metrics_are_served_on_an_unpublished_port_of_their_own() -> None:
    services = compose()["services"]
    app, migrate = services["app"], services["migrate"]
    metrics_port = app["environment"]["FORGE_METRICS_PORT"]
    assert migrate["environment"]["FORGE_METRICS_PORT"] == metrics_port  # production settings validate there too
    assert app["environment"]["FORGE_SERVER"] == "uvicorn"  # granian binds one address only
    published = [str(mapping).split(":")[-2:] for mapping in app["ports"]]
    assert all(metrics_port not in mapping for mapping in published)
    assert "FORGE_METRICS_TOKEN" not in app["environment"]


def test_the_app_sends_its_mail_to_mailpit_with_settings_production_accepts() -> None:
    services = compose()["services"]
    env = services["app"]["environment"]
    mail = {name: value for name, value in env.items() if name.startswith(("FORGE_MAIL_", "FORGE_SMTP_"))}
    assert {name: mail[name] for name in ("FORGE_MAIL_BACKEND", "FORGE_SMTP_HOST", "FORGE_SMTP_PORT")} == {
        "FORGE_MAIL_BACKEND": "smtp",
        "FORGE_SMTP_HOST": "mailpit",
        "FORGE_SMTP_PORT": "1025",  # Mailpit's SMTP port, on the compose network only
    }
    assert services["migrate"]["environment"]["FORGE_MAIL_BACKEND"] == "smtp"  # production's checks run there too
    assert services["app"]["depends_on"]["mailpit"] == {"condition": "service_started"}  # mail jobs retry meanwhile
    mailpit = services["mailpit"]
    assert mailpit["image"].startswith("axllent/mailpit:v")  # a pinned release
    assert mailpit["ports"] == ["8025:8025"]  # the web UI; SMTP stays inside
    assert mailpit["healthcheck"]["test"] == ["CMD", "/mailpit", "readyz"]
    # The values compose gives the app (a variable's default where it has one) pass production's checks.
    given: dict[str, Any] = {
        name.removeprefix("FORGE_").lower(): re.sub(r"^\$\{\w+:-(.*)\}$", r"\1", value) for name, value in mail.items()
    }
    secrets: dict[str, Any] = {
        name: value for name, value in PRODUCTION_SECRETS.items() if not name.startswith("mail_")
    }
    production = Settings(_env_file=None, **(secrets | given))
    assert (production.smtp_host, production.effective_smtp_port) == ("mailpit", 1025)
    assert production.mail_from_domain.endswith(".example")


def _stack_settings(service: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The settings `service` runs with: its environment, each `${VAR:-default}` at its default and each required
    `${VAR:?...}` secret given a production-grade value, as an operator would export it."""
    secrets = {f"FORGE_{name.upper()}": str(value) for name, value in PRODUCTION_SECRETS.items()}
    for name, value in compose()["services"][service]["environment"].items():
        required = re.fullmatch(r"\$\{(\w+):\?[^}]*\}", value)
        resolved = secrets[required.group(1)] if required else re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value)
        monkeypatch.setenv(name, resolved)
    return Settings()


def test_a_worker_service_runs_the_jobs_on_the_stack_s_postgresql_and_the_app_only_serves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    services = compose()["services"]
    app, worker = services["app"], services["worker"]
    assert worker["command"] == ["forge", "worker"]
    assert worker["image"] == app["image"]
    assert worker["depends_on"] == {
        "migrate": {"condition": "service_completed_successfully"},
        "postgres": {"condition": "service_healthy"},
        "otel-collector": {"condition": "service_started"},
    }
    assert "ports" not in worker  # its metrics port stays on the compose network
    serving = _stack_settings("app", monkeypatch)
    assert serving.effective_jobs_run_in_server is False
    working = _stack_settings("worker", monkeypatch)
    assert working.database_url == serving.database_url
    assert not working.is_sqlite  # several workers share one queue: PostgreSQL's row locks
    assert working.jobs_metrics_port is not None
    assert str(working.jobs_metrics_port) in worker["expose"]
    assert set(_signals_the_app_sends(worker["environment"])) == {"traces", "metrics"}  # job spans and metrics too


def test_the_worker_s_health_check_asks_its_readiness_and_its_stop_lets_jobs_finish(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker = compose()["services"]["worker"]
    check = worker["healthcheck"]["test"]
    assert check[:3] == ["CMD", "python", "-c"]
    assert "os.environ['FORGE_JOBS_METRICS_PORT']" in check[3]
    assert "/readyz'" in check[3]
    grace = int(worker["stop_grace_period"].removesuffix("s"))
    assert grace > _stack_settings("worker", monkeypatch).jobs_shutdown_seconds


def test_the_stack_s_mail_links_name_an_https_web_app_as_production_needs() -> None:
    value = compose()["services"]["app"]["environment"]["FORGE_FRONTEND_URL"]
    default = re.sub(r"^\$\{FORGE_FRONTEND_URL:-(.*)\}$", r"\1", value)
    assert default != value  # a variable with a default: the stack starts without it
    secrets = {name: value for name, value in PRODUCTION_SECRETS.items() if name != "frontend_url"}
    production = Settings(_env_file=None, **secrets, frontend_url=default)
    assert production.frontend_url.startswith("https://")


def test_the_collector_pipeline_uses_only_defined_components_and_exports_to_jaeger() -> None:
    config = collector_config()
    service = config["service"]
    assert set(service["extensions"]) <= set(config["extensions"])
    for pipeline in service["pipelines"].values():
        assert set(pipeline["receivers"]) <= set(config["receivers"])
        assert set(pipeline.get("processors", [])) <= set(config["processors"])
        assert set(pipeline["exporters"]) <= set(config["exporters"])
    traces = service["pipelines"]["traces"]
    assert traces["processors"][0] == "memory_limiter"
    jaeger_exports = [
        name for name in traces["exporters"] if config["exporters"][name].get("endpoint") == "jaeger:4317"
    ]
    assert jaeger_exports
    assert compose()["services"]["jaeger"]["environment"]["COLLECTOR_OTLP_ENABLED"] == "true"


def _signals_the_app_sends(env: dict[str, str]) -> set[str]:
    assert env["FORGE_OTEL_EXPORTER"] == "otlp"  # traces, always once exporting
    metrics = env.get("FORGE_OTEL_METRICS_ENABLED", str(Settings.model_fields["otel_metrics_enabled"].default))
    return {"traces"} | ({"metrics"} if metrics.lower() in ("1", "true", "yes", "on") else set())


def test_every_signal_the_app_sends_has_a_collector_pipeline_fed_by_the_otlp_receiver() -> None:
    # A signal the collector has no pipeline for is refused (404 over OTLP/HTTP) and lost.
    signals = _signals_the_app_sends(compose()["services"]["app"]["environment"])
    assert signals == {"traces", "metrics"}  # what compose runs: metrics are on by default
    pipelines = collector_config()["service"]["pipelines"]
    for signal_name in signals:
        fed = [p for name, p in pipelines.items() if name.split("/")[0] == signal_name and "otlp" in p["receivers"]]
        assert fed, f"the app sends {signal_name} but the collector has no {signal_name} pipeline"
        assert all(p["processors"][0] == "memory_limiter" for p in fed)


def test_the_collector_health_check_asks_the_health_check_extension() -> None:
    services = compose()["services"]
    port = collector_config()["extensions"]["health_check"]["endpoint"].rsplit(":", 1)[1]
    assert f"127.0.0.1:{port}/" in " ".join(services["otel-collector"]["healthcheck"]["test"])
    mounted = services["otel-collector"]["volumes"][0].split(":")[0]
    assert (DOCKER / mounted).resolve() == DOCKER / "otel-collector.yaml"
    assert (DOCKER / services["otel-collector"]["build"]["dockerfile"]).exists()


# --- the image's command, from a virtual environment built the image's way ------------------------------------------


def _host_env(uv: str) -> dict[str, str]:
    """The host's environment minus what would point uv or the app elsewhere; the image's uv on PATH."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("FORGE_") and name not in ("VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "PYTHONPATH")
    }
    env["PATH"] = f"{Path(uv).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


@pytest.fixture(scope="module")
def image_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder standing in for the image's file system, with /app built as the builder stage builds it."""
    uv = processes.uv_or_skip("the container test builds the image's virtual environment with it")
    root = tmp_path_factory.mktemp("image")
    replay_build_stage(stage("builder"), context=ROOT, root=root, host_env=_host_env(uv))
    copy = stage("runtime").all("COPY")[0]
    assert copy.arguments == "/app /app"  # the runtime stage takes /app as the builder left it
    return root


def _runtime_env(root: Path, **settings: str) -> dict[str, str]:
    base = {name: value for name, value in os.environ.items() if not name.startswith(("FORGE_", "VIRTUAL_ENV"))}
    env = stage("runtime").env(base)
    # The image's PATH entries under /app are the built folder's.
    env["PATH"] = os.pathsep.join(
        str(in_root(root, entry, root)) if entry.startswith("/app") else entry for entry in env["PATH"].split(":")
    )
    return env | settings


def _production_settings(database: Path, port: int) -> dict[str, str]:
    settings = {f"FORGE_{name.upper()}": value for name, value in PRODUCTION_SECRETS.items() if name != "environment"}
    return settings | {"FORGE_DATABASE_URL": f"sqlite+aiosqlite:///{database}", "FORGE_PORT": str(port)}


@pytest.mark.container
def test_the_image_holds_current_bytecode_for_every_module_of_its_own(image_root: Path) -> None:
    # The runtime never writes bytecode (PYTHONDONTWRITEBYTECODE, a root-owned tree): what is not compiled in the
    # builder is compiled again at every start. Each source needs a cache that matches its content (hash-based, so
    # valid whatever mtimes the image ends up with) for the image's Python, which is this one's version.
    app = in_root(image_root, "/app", image_root)
    sources = [*(app / "src").rglob("*.py"), *(app / "alembic").rglob("*.py")]
    assert any(source.name == "main.py" for source in sources)
    stale = []
    for source in sources:
        cache = Path(importlib.util.cache_from_source(str(source)))
        data = cache.read_bytes() if cache.exists() else b""
        current = data[8:16] == importlib.util.source_hash(source.read_bytes())
        if data[:4] != importlib.util.MAGIC_NUMBER or not current:
            stale.append(source.relative_to(app).as_posix())
    assert stale == []


@pytest.mark.container
def test_the_images_command_serves_passes_its_healthcheck_and_stops_cleanly(image_root: Path, tmp_path: Path) -> None:
    runtime = stage("runtime")
    workdir = in_root(image_root, (runtime.last("WORKDIR") or pytest.fail("no WORKDIR")).arguments, image_root)
    port = processes.free_port()
    env = _runtime_env(image_root, **_production_settings(tmp_path / "forge.db", port))
    forge = shutil.which("forge", path=env["PATH"])
    assert forge is not None
    assert Path(forge).is_relative_to(image_root), f"forge resolved outside the built image: {forge}"
    where = [forge.replace("forge", "python"), "-c", "import app, fastapi; print(app.__file__, fastapi.__file__)"]
    imported = subprocess.run(where, cwd=workdir, env=env, capture_output=True, text=True, check=True)  # noqa: S603
    assert all(Path(module).is_relative_to(image_root) for module in imported.stdout.split()), imported.stdout

    migrate = compose()["services"]["migrate"]["command"]
    migrated = subprocess.run(migrate, cwd=workdir, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    assert migrated.returncode == 0, migrated.stderr

    cmd = (runtime.last("CMD") or pytest.fail("no CMD")).exec_form
    assert cmd is not None
    server = subprocess.Popen(  # noqa: S603 - the image's own command
        cmd, cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        ready = processes.wait_for_http(f"http://127.0.0.1:{port}/healthz", server)
        assert ready is not None, "the image's command did not start serving"
        assert ready.json() == {"status": "ok"}
        healthcheck = (runtime.last("HEALTHCHECK") or pytest.fail("no HEALTHCHECK")).exec_form
        assert healthcheck is not None
        healthy = subprocess.run(healthcheck, cwd=workdir, env=env, capture_output=True, check=False)  # noqa: S603
        assert healthy.returncode == 0, healthy.stderr
        server.send_signal(signal.Signals[(runtime.last("STOPSIGNAL") or pytest.fail("no STOPSIGNAL")).arguments])
        output, _ = server.communicate(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate()
    assert server.returncode == 0, output
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]  # production logs JSON
    started = next(event for event in events if event["event"] == "started")
    assert started["environment"] == "production"
    assert any(event["event"] == "stopped" for event in events)
    # With the server gone, the same health check fails: it does check something.
    unhealthy = subprocess.run(healthcheck, cwd=workdir, env=env, capture_output=True, check=False)  # noqa: S603
    assert unhealthy.returncode != 0


@pytest.mark.container
def test_the_worker_service_s_command_passes_its_health_check_and_stops_cleanly(
    image_root: Path, tmp_path: Path
) -> None:
    runtime, worker = stage("runtime"), compose()["services"]["worker"]
    workdir = in_root(image_root, (runtime.last("WORKDIR") or pytest.fail("no WORKDIR")).arguments, image_root)
    env = _runtime_env(image_root, **_production_settings(tmp_path / "forge.db", processes.free_port()))
    env["FORGE_JOBS_METRICS_PORT"] = str(processes.free_port())
    migrate = compose()["services"]["migrate"]["command"]
    migrated = subprocess.run(migrate, cwd=workdir, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    assert migrated.returncode == 0, migrated.stderr
    healthcheck = worker["healthcheck"]["test"][1:]  # after CMD: the exec form
    process = subprocess.Popen(  # noqa: S603 - the service's own command
        worker["command"], cwd=workdir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        readyz = f"http://127.0.0.1:{env['FORGE_JOBS_METRICS_PORT']}/readyz"
        answer = processes.wait_for_http(readyz, process)
        assert answer is not None, "the worker's command did not start serving its endpoint"
        deadline = time.monotonic() + 60
        while answer.status_code == 503 and time.monotonic() < deadline:  # listening before its first round
            time.sleep(0.05)
            answer = httpx.get(readyz, timeout=1)
        assert answer.status_code == 200, answer.text
        healthy = subprocess.run(healthcheck, cwd=workdir, env=env, capture_output=True, check=False)  # noqa: S603
        assert healthy.returncode == 0, healthy.stderr
        process.send_signal(signal.Signals[(runtime.last("STOPSIGNAL") or pytest.fail("no STOPSIGNAL")).arguments])
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    events = [json.loads(line)["event"] for line in output.splitlines() if line.startswith("{")]
    assert {"job_worker_ready", "job_worker_stopped"} <= set(events)
    unhealthy = subprocess.run(healthcheck, cwd=workdir, env=env, capture_output=True, check=False)  # noqa: S603
    assert unhealthy.returncode != 0
