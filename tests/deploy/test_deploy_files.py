"""The deploy files say what the project really has (no Docker engine runs here; docs/deploy.md).

They are read as Docker would read them: the Dockerfile by ``dockerfile-parse``, compose.yaml as
YAML. What needs an engine (building the image, starting the services) is not run here.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from dockerfile_parse import DockerfileParser
from packaging.requirements import Requirement

from bot import cli
from tests.unit.test_settings import settings_classes

ROOT = Path(__file__).parents[2]
# Read by compose.yaml and Caddy, not by Shopbot's settings classes.
COMPOSE_VARIABLES = {"POSTGRES_PASSWORD", "SHOPBOT_DOMAIN", "SHOPBOT_BOT_WORKERS"}


def dockerfile() -> DockerfileParser:
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    return parser


def stages(parser: DockerfileParser) -> list[list[dict]]:
    """The instructions of each build stage, in order."""
    result: list[list[dict]] = []
    for instruction in parser.structure:
        if instruction["instruction"] == "FROM":
            result.append([])
        if result:
            result[-1].append(instruction)
    return result


def compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def real_command(argv: list[str]) -> bool:
    """Whether ``shopbot <argv>`` names a subcommand the project has (parsing it, never running it)."""
    if argv[0] in cli.DELEGATED:
        module = __import__(cli.DELEGATED[argv[0]], fromlist=["build_parser"])
        parser = getattr(module, "build_parser", None)
        if parser is None:
            return True
        try:
            parser().parse_args(argv[1:])
        except SystemExit:
            return False
        return True
    try:
        cli.build_parser().parse_args(argv)
    except SystemExit:
        return False
    return True


def test_the_image_is_built_in_stages_and_runs_as_an_unprivileged_user():
    parser = dockerfile()
    build, run = stages(parser)
    assert "AS build" in build[0]["value"] and "AS run" in run[0]["value"]
    run_text = "\n".join(i["content"] for i in run)
    assert "COPY --from=build /opt/shopbot /opt/shopbot" in run_text
    assert not re.search(r"apt-get|gcc|build-essential|pip install", run_text), "the run stage builds nothing"
    users = [i["value"] for i in run if i["instruction"] == "USER"]
    assert users and users[-1] not in ("root", "0"), "the final stage must not run as root"


def test_the_image_installs_the_locked_dependencies_hash_checked_and_the_package_without_others():
    build_text = "\n".join(i["content"] for i in stages(dockerfile())[0])
    assert "pip install --require-hashes -r requirements.lock" in build_text
    assert "pip install --no-deps ." in build_text
    copied = {i["value"].split()[0] for i in stages(dockerfile())[0] if i["instruction"] == "COPY"}
    packages = {"bot", "scheduler", "gateway", "sandbox", "billers"}
    assert packages <= copied, "every package setuptools finds is copied into the build"


def test_the_lock_pins_every_runtime_dependency_within_the_projects_ranges():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = (ROOT / "requirements.lock").read_text()
    pins = dict(re.findall(r"^([a-z0-9][a-z0-9._-]*)==([^\s\\]+)", lock, re.MULTILINE))
    for spec in project["dependencies"]:
        requirement = Requirement(spec)
        name = requirement.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in requirements.lock: run `make lock`"
        assert requirement.specifier.contains(pins[name]), f"{name}=={pins[name]} is outside {spec}"
    hashed = re.findall(r"^[a-z0-9][a-z0-9._-]*==\S+ \\\n\s+--hash=sha256:", lock, re.MULTILINE)
    assert len(hashed) == len(pins), "every pin carries its hashes"


def test_the_image_entry_point_is_the_command_the_readme_uses():
    parser = dockerfile()
    entry = [i["value"] for i in parser.structure if i["instruction"] == "ENTRYPOINT"][-1]
    default = [i["value"] for i in parser.structure if i["instruction"] == "CMD"][-1]
    assert entry == '["shopbot"]'
    argv = yaml.safe_load(default)
    assert real_command(argv), argv
    readme = (ROOT / "README.md").read_text()
    assert f"shopbot {argv[0]}" in readme


def test_compose_runs_one_scheduler_migrations_first_and_only_real_commands():
    services = compose()["services"]
    image_services = {name: s for name, s in services.items() if s.get("build") == "."}
    assert {"migrate", "bot", "scheduler"} <= set(image_services)
    for name, service in image_services.items():
        assert real_command(service["command"]), f"{name}: shopbot {service['command']}"
    assert services["scheduler"]["deploy"]["replicas"] == 1
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for name in ("bot", "scheduler"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["postgres"]["image"].startswith("postgres:")
    assert "staging" in services["gateway"]["profiles"]
    database_url = image_services["bot"]["environment"]["SHOPBOT_DATABASE_URL"]
    assert database_url.startswith("postgresql+asyncpg://")


def known_settings() -> set[str]:
    names = set(COMPOSE_VARIABLES)
    for cls in settings_classes():
        prefix = cls.model_config.get("env_prefix", "")
        names |= {f"{prefix}{name}".upper() for name in cls.model_fields}
    return names


@pytest.mark.parametrize("path", ["compose.yaml", "docs/deploy.md", "deploy/Caddyfile"])
def test_every_setting_the_deploy_files_name_exists(path):
    named = set(re.findall(r"\b(SHOPBOT_[A-Z0-9_]+|POSTGRES_PASSWORD)\b", (ROOT / path).read_text()))
    assert named, path
    assert named <= known_settings(), named - known_settings()


def test_every_shopbot_and_make_command_in_the_deploy_guide_exists():
    text = (ROOT / "docs/deploy.md").read_text()
    # What a reader types: the lines of code blocks and the inline code spans.
    code = re.findall(r"```\n(.*?)```", text, re.DOTALL) + re.findall(r"`([^`\n]+)`", text)
    lines = [line for block in code for line in block.splitlines()]
    # In command position: a line's start, after .venv/bin/ or after sh -c '.
    shopbot = [m for line in lines for m in re.findall(r"(?:^|\.venv/bin/|-c ')shopbot ([a-z][^'#>]*)", line)]
    assert len(shopbot) >= 5
    for command in shopbot:
        assert real_command(shlex.split(command)), f"shopbot {command}"
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    makes = [m for line in lines for m in re.findall(r"^make ([a-z-]+)", line)]
    assert makes
    assert set(makes) <= targets, set(makes) - targets
    services = set(compose()["services"])
    verb = r"(?:run --rm (?:--entrypoint sh )?|exec -T |logs -f |stop )"
    named = [m for line in lines for m in re.findall(rf"docker compose (?:--profile \w+ )?{verb}(\w+)", line)]
    assert named
    assert set(named) <= services, set(named) - services


def test_the_bot_refuses_the_real_telegram_with_the_published_secrets(monkeypatch, capsys):
    monkeypatch.setenv("SHOPBOT_TELEGRAM_BASE_URL", "https://api.telegram.org/bot")
    monkeypatch.setenv("SHOPBOT_TELEGRAM_TOKEN", "987654:REAL")
    monkeypatch.delenv("SHOPBOT_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("SHOPBOT_LINK_SECRET", raising=False)
    monkeypatch.chdir(ROOT / "tests" / "deploy")  # no .env here
    assert cli.main(["run", "--webhook"]) == 2
    err = capsys.readouterr().err
    assert "SHOPBOT_WEBHOOK_SECRET" in err and "SHOPBOT_LINK_SECRET" in err
    assert "SHOPBOT_TELEGRAM_TOKEN" not in err
