"""docker-compose.yml cannot be run here (no Docker engine), so it is kept
correct by holding its commands identical to the Procfile's, which CI runs."""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def procfile() -> dict[str, str]:
    lines = (ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


def test_it_runs_web_worker_and_beat_from_the_procfile():
    assert set(procfile()) == {"web", "worker", "beat"}


def test_it_keeps_compose_commands_identical_to_the_procfile():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    for name, command in procfile().items():
        assert services[name]["command"] == command, name


def test_it_gives_compose_the_database_and_the_broker():
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert {"db", "redis", "web", "worker", "beat"} <= set(compose["services"])
    for name in ("web", "worker", "beat"):
        env = compose["services"][name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert env["REDIS_URL"].startswith("redis://")
