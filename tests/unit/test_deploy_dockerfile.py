"""deploy/docker/Dockerfile checked without a Docker engine: stages, uv commands, user, context.

The Dockerfile is parsed (continuation lines joined, comments dropped) and checked for what the
image promises: one multi-stage build for the three services with ``uv sync --frozen --no-dev``,
a runtime stage holding only the virtual environment, a numeric non-root user that the Kubernetes
securityContext and compose agree with, and a build context (after the Dockerfile's own
dockerignore) that holds every file the COPY instructions need and nothing private.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "deploy" / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
DOCKERIGNORE = DOCKER / "Dockerfile.dockerignore"
SERVICES = ("ingest", "rights", "ledger")
PACKAGES = [f"consentry-{service}" for service in SERVICES]
APP_UID = 10001
DATA_DIR = "/var/lib/consentry"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for instruction, args in self.instructions if instruction == keyword]


@cache
def parse() -> tuple[dict[str, str], list[Stage]]:
    """(global ARG defaults, stages in order)."""
    logical: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue  # comment lines inside a continued instruction are dropped by Docker too
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", rest, re.IGNORECASE)
            assert match, f"unparsed FROM {rest}"
            stages.append(Stage(name=match[2] or str(len(stages)), base=match[1]))
        elif not stages:
            assert keyword == "ARG", f"only ARG may come before the first FROM, not {keyword}"
            name, _, default = rest.partition("=")
            args[name] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def stage(name: str) -> Stage:
    return next(s for s in parse()[1] if s.name == name)


def expand(text: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?", lambda m: args.get(m[1], m[0]), text)


def test_stages_are_uv_deps_build_runtime_and_the_last_one_runs() -> None:
    names = [s.name for s in parse()[1]]
    assert names == ["uv", "deps", "build", "runtime"]
    assert stage("build").base == "deps"


def test_copy_from_refers_to_earlier_stages() -> None:
    seen: list[str] = []
    for current in parse()[1]:
        for args in current.all("COPY"):
            source = re.search(r"--from=(\S+)", args)
            if source:
                assert source[1] in seen, f"{current.name}: COPY --from={source[1]} is not an earlier stage"
        seen.append(current.name)


def test_versions_are_pinned_and_python_satisfies_the_workspace() -> None:
    args, stages = parse()
    assert re.fullmatch(r"\d+\.\d+\.\d+", args["UV_VERSION"]), "pin uv to a release"
    assert expand(stages[0].base, args) == f"ghcr.io/astral-sh/uv:{args['UV_VERSION']}"
    requires = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "requires-python"
    ]
    assert Version(args["PYTHON_VERSION"] + ".0") in SpecifierSet(requires)
    # The virtual environment's interpreter link must resolve in the runtime stage too.
    assert stage("deps").base == stage("runtime").base


def _uv_syncs(name: str) -> list[list[str]]:
    commands = []
    for run in stage(name).all("RUN"):
        for part in run.split("&&"):
            words = shlex.split(part)
            words = [w for w in words if not w.startswith("--mount=")]
            if words[:2] == ["uv", "sync"]:
                commands.append(words)
    return commands


def test_dependencies_then_workspace_are_installed_with_uv_sync_frozen_no_dev() -> None:
    for name, extra in (("deps", "--no-install-workspace"), ("build", "--no-editable")):
        (command,) = _uv_syncs(name)
        assert {"--frozen", "--no-dev", extra} <= set(command), f"{name}: {shlex.join(command)}"
        packages = [command[i + 1] for i, word in enumerate(command) if word == "--package"]
        assert packages == PACKAGES
        assert "--all-packages" not in command  # the CLI and its embedded broker stay out of the image
    env = " ".join(stage("deps").all("ENV"))
    assert "UV_PROJECT_ENVIRONMENT=/opt/consentry/venv" in env
    assert "UV_PYTHON_DOWNLOADS=never" in env


def test_the_lock_and_every_workspace_member_is_copied_before_the_dependency_layer() -> None:
    root = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    members = root["tool"]["uv"]["workspace"]["members"]
    copies = " ".join(stage("deps").all("COPY"))
    assert "uv.lock" in copies
    for member in members:
        assert f"{member}/pyproject.toml" in copies, f"uv sync --frozen needs {member}/pyproject.toml"


def test_runtime_holds_only_the_environment_and_runs_as_a_numeric_non_root_user() -> None:
    runtime = stage("runtime")
    copies = runtime.all("COPY")
    assert copies == ["--from=build /opt/consentry/venv /opt/consentry/venv"]
    (user,) = runtime.all("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit(), "Kubernetes runAsNonRoot can only check a numeric USER"
    assert int(uid) == APP_UID
    assert int(gid) == APP_UID
    setup = " ".join(runtime.all("RUN"))
    assert f"--uid {APP_UID}" in setup
    assert f"-o {APP_UID} -g {APP_UID} -m 0750 {DATA_DIR}" in setup, "the data directory belongs to the user"
    env = " ".join(runtime.all("ENV"))
    assert f"CONSENTRY_DATA_DIR={DATA_DIR}" in env
    assert "PATH=/opt/consentry/venv/bin:" in env
    exposed = {int(port) for args in runtime.all("EXPOSE") for port in args.split()}
    assert exposed == {8701, 8702, 8703}
    (command,) = runtime.all("CMD")
    words = json.loads(command)  # exec form: python is PID 1 and gets SIGTERM for a clean shutdown
    assert words[:2] == ["python", "-m"]
    assert words[2] in {f"consentry_{service}" for service in SERVICES}
    assert not runtime.all("ENTRYPOINT"), "compose/k8s choose the service with command"


def test_kubernetes_and_compose_agree_with_the_image_user() -> None:
    for service in SERVICES:
        documents = yaml.safe_load_all(
            (REPO / "deploy" / "k8s" / f"{service}.yaml").read_text(encoding="utf-8")
        )
        deployment = next(d for d in documents if d and d["kind"] == "Deployment")
        security = deployment["spec"]["template"]["spec"]["securityContext"]
        assert security["runAsUser"] == security["runAsGroup"] == security["fsGroup"] == APP_UID
    compose = yaml.safe_load((REPO / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
    for service in SERVICES:
        build = compose["services"][service]["build"]
        assert (REPO / "deploy" / build["context"]).resolve() == REPO
        assert (REPO / "deploy" / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE
        assert "user" not in compose["services"][service], "the image's USER applies"


# ---- build context ---------------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern (Go filepath.Match plus ``**``) as a regex on a relative path."""
    out = ""
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
        elif pattern.startswith("**", i):
            out += ".*"
            i += 2
        elif pattern[i] == "*":
            out += "[^/]*"
            i += 1
        elif pattern[i] == "?":
            out += "[^/]"
            i += 1
        else:
            out += re.escape(pattern[i])
            i += 1
    return re.compile(out)


@cache
def ignore_rules() -> list[tuple[re.Pattern[str], bool]]:
    rules = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        pattern = line.lstrip("!").strip().strip("/")
        rules.append((_pattern_regex(pattern), negated))
    return rules


def in_context(path: str) -> bool:
    """Whether ``path`` (relative to the repository) is sent to the builder."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]  # a matched directory covers its files
    included = True
    for regex, negated in ignore_rules():
        if any(regex.fullmatch(candidate) for candidate in candidates):
            included = negated
    return included


def test_every_copy_source_is_in_the_build_context() -> None:
    for current in parse()[1]:
        for args in current.all("COPY"):
            if "--from=" in args:
                continue
            *sources, _destination = shlex.split(args)
            for source in sources:
                path = REPO / source
                assert path.exists(), f"COPY {source}: not in the repository"
                files = (
                    [path]
                    if path.is_file()
                    else [p for p in path.rglob("*.py") if "__pycache__" not in p.parts]
                )
                assert files
                for file in files:
                    relative = file.relative_to(REPO).as_posix()
                    assert in_context(relative), f"COPY {source}: {relative} is excluded by the dockerignore"


def test_the_build_context_leaves_out_local_state_and_tests() -> None:
    for private in (
        ".git/config",
        ".venv/bin/python",
        ".consentry/ledger.key",
        "deploy/local/.state/env",
        "tests/unit/test_deploy_dockerfile.py",
        "shared/consentry_shared/__pycache__/settings.cpython-312.pyc",
        "cli/consentry/cli.py",
    ):
        assert not in_context(private), f"{private} would be sent to the builder"
