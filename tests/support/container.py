"""Reading docker/Dockerfile and .dockerignore without Docker, and replaying the image's build stage with uv.

`parse_dockerfile` knows the Dockerfile syntax this project uses: comments, line continuations, `--flag=value`
options, exec (JSON) and shell forms, `ARG` defaults in `FROM`, and `ENV key=value` pairs. `DockerIgnore` follows
Docker's rules: patterns in order, the last match wins, `!` re-includes, and a pattern that matches a folder
matches everything under it. `replay_build_stage` runs a stage's WORKDIR, ENV, COPY and RUN on the host, under a
folder standing in for the image's root, so that its `uv sync` commands run exactly as written.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

__all__ = ["DockerIgnore", "Instruction", "Stage", "expand", "in_root", "parse_dockerfile", "replay_build_stage"]

_VARIABLE = re.compile(r"\$(?:\{(\w+)\}|(\w+))")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    flags: dict[str, str]  # --name=value options; repeated --mount options are joined with "\n"
    arguments: str  # the rest, as written (continuations joined)

    @property
    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form CMD, ENTRYPOINT, RUN or HEALTHCHECK CMD; None for the shell form."""
        text = self.arguments
        if self.keyword == "HEALTHCHECK":
            _, _, text = text.partition("CMD")
        text = text.strip()
        if not text.startswith("["):
            return None
        parsed = json.loads(text)
        assert isinstance(parsed, list)
        assert all(isinstance(item, str) for item in parsed)
        return parsed

    @property
    def mounts(self) -> list[dict[str, str]]:
        """RUN --mount options as dictionaries (`type`, `source`, `target`...)."""
        raw = self.flags.get("mount")
        if raw is None:
            return []
        return [dict(part.split("=", 1) for part in mount.split(",")) for mount in raw.split("\n")]


@dataclass
class Stage:
    base: str  # the FROM image, ARG defaults substituted
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [instruction for instruction in self.instructions if instruction.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None

    def env(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """The stage's ENV applied over `base` (the base image's environment), with `$VAR` references expanded."""
        env = dict(base or {})
        for instruction in self.all("ENV"):
            for pair in shlex.split(instruction.arguments):
                name, _, value = pair.partition("=")
                env[name] = expand(value, env)
        return env


def expand(value: str, variables: dict[str, str]) -> str:
    return _VARIABLE.sub(lambda match: variables.get(match.group(1) or match.group(2), ""), value)


def _logical_lines(text: str) -> list[str]:
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if stripped.startswith("#") or (not stripped and not current):
            continue  # comments (also inside continuations) and blank lines
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    assert not current, "the Dockerfile ends inside a line continuation"
    return lines


def _instruction(line: str) -> Instruction:
    keyword, _, rest = line.partition(" ")
    flags: dict[str, str] = {}
    rest = rest.strip()
    while rest.startswith("--"):
        option, _, rest = rest.partition(" ")
        name, _, value = option[2:].partition("=")
        flags[name] = f"{flags[name]}\n{value}" if name in flags else value
        rest = rest.strip()
    return Instruction(keyword.upper(), flags, rest)


def parse_dockerfile(text: str) -> list[Stage]:
    stages: list[Stage] = []
    args: dict[str, str] = {}
    for line in _logical_lines(text):
        instruction = _instruction(line)
        if instruction.keyword == "ARG" and not stages:
            name, _, default = instruction.arguments.partition("=")
            args[name] = default
        elif instruction.keyword == "FROM":
            image, _, alias = instruction.arguments.partition(" AS ")
            stages.append(Stage(base=expand(image.strip(), args), name=alias.strip() or None))
        else:
            assert stages, f"{instruction.keyword} before the first FROM"
            stages[-1].instructions.append(instruction)
    return stages


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    out, index = "", 0
    while index < len(pattern):
        char = pattern[index]
        if pattern.startswith("**/", index):
            out, index = out + "(?:.*/)?", index + 3
            continue
        if pattern.startswith("**", index):
            out, index = out + ".*", index + 2
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.index("]", index)
            out += "[" + pattern[index + 1 : end].replace("!", "^", 1) + "]"
            index = end
        else:
            out += re.escape(char)
        index += 1
    return re.compile(out)


class DockerIgnore:
    def __init__(self, text: str) -> None:
        self.rules: list[tuple[bool, re.Pattern[str]]] = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            include = line.startswith("!")
            pattern = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
            self.rules.append((include, _pattern_regex(pattern)))

    def excludes(self, path: str) -> bool:
        """Whether `path` (relative to the build context, `/`-separated) is left out of the context."""
        parts = PurePosixPath(path).parts
        candidates = ["/".join(parts[: end + 1]) for end in range(len(parts))]
        excluded = False
        for include, regex in self.rules:
            if any(regex.fullmatch(candidate) for candidate in candidates):
                excluded = not include
        return excluded


def _copy_into(source: Path, destination: Path, *, context: Path, ignore: DockerIgnore) -> None:
    if source.is_dir():
        for path in source.rglob("*"):
            relative = path.relative_to(context).as_posix()
            if path.is_file() and not ignore.excludes(relative):
                target = destination / path.relative_to(source)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(path, target)
    else:
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


def in_root(root: Path, container_path: str, workdir: Path) -> Path:
    """Where a path of the image lives under `root` (relative paths are relative to the WORKDIR)."""
    if container_path.startswith("/"):
        return root / container_path.lstrip("/")
    return workdir / container_path


def replay_build_stage(stage: Stage, *, context: Path, root: Path, host_env: dict[str, str]) -> None:
    """Run the stage's WORKDIR, ENV, COPY (from the context) and RUN instructions under `root`.

    COPY --from (the uv binary) is what the host already has. RUN --mount=type=bind files appear for the command
    and go away after it, as in BuildKit; cache mounts are the host's uv cache.
    """
    ignore = DockerIgnore((context / ".dockerignore").read_text())
    workdir = root
    env = dict(host_env)
    for instruction in stage.instructions:
        if instruction.keyword == "WORKDIR":
            workdir = in_root(root, instruction.arguments, workdir)
            workdir.mkdir(parents=True, exist_ok=True)
        elif instruction.keyword == "ENV":
            env = Stage(stage.base, stage.name, [instruction]).env(env)
        elif instruction.keyword == "COPY" and "from" not in instruction.flags:
            *sources, destination = shlex.split(instruction.arguments)
            target = in_root(root, destination, workdir)
            for source in sources:
                into = target / Path(source).name if destination.endswith("/") else target
                _copy_into(context / source, into, context=context, ignore=ignore)
        elif instruction.keyword == "RUN":
            _run(instruction, context=context, workdir=workdir, env=env)


def _run(instruction: Instruction, *, context: Path, workdir: Path, env: dict[str, str]) -> None:
    mounted: list[Path] = []
    for mount in instruction.mounts:
        if mount["type"] == "bind":
            target = workdir / mount["target"]
            assert not target.exists(), f"a bind mount would hide {target}"
            shutil.copy2(context / mount["source"], target)
            mounted.append(target)
    try:
        subprocess.run(  # noqa: S603 - the Dockerfile's own command
            ["/bin/sh", "-c", instruction.arguments], cwd=workdir, env=env, check=True, capture_output=True, text=True
        )
    except subprocess.CalledProcessError as exc:
        msg = f"RUN {instruction.arguments} failed:\n{exc.stdout}\n{exc.stderr}"
        raise AssertionError(msg) from exc
    finally:
        for path in mounted:
            path.unlink()
