"""Deployment files, checked without a Docker engine: every wiredesk command they run is a real one."""

from pathlib import Path

import click
import pytest
import yaml

from cli import main

ROOT = Path(__file__).resolve().parents[1]


def parse_command(args: list[str]) -> click.Context:
    """Parse `wiredesk ARGS` the way the CLI would, without running it; raise on an unknown command or option."""
    group_ctx = main.make_context("wiredesk", [args[0]])
    command = main.get_command(group_ctx, args[0])
    if command is None:
        raise click.UsageError(f"no such command: {args[0]}")
    return command.make_context(args[0], list(args[1:]), parent=group_ctx)


def compose_services():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def test_every_compose_service_built_from_our_image_runs_a_real_wiredesk_command():
    ours = {name: svc for name, svc in compose_services().items() if svc.get("image") == "wiredesk:latest"}
    assert set(ours) == {"migrate", "api", "poller", "worker"}
    for name, service in ours.items():
        ctx = parse_command(service["command"])
        assert ctx.command.name == service["command"][0], name


def test_compose_redis_persists_the_queue_and_workers_scale():
    services = compose_services()
    assert "--appendonly" in services["redis"]["command"]
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker  # `--scale worker=N` needs both absent


def test_compose_postgres_gets_buffers_and_wal_for_a_million_documents():
    command = " ".join(compose_services()["postgres"]["command"])
    assert "shared_buffers=${PG_SHARED_BUFFERS:-4GB}" in command and "max_wal_size=${PG_MAX_WAL_SIZE:-16GB}" in command


def test_parse_command_rejects_an_unknown_option():
    with pytest.raises(click.UsageError):
        parse_command(["worker", "--no-such-option"])


def test_dockerfile_entrypoint_is_wiredesk_and_runs_as_non_root():
    text = (ROOT / "Dockerfile").read_text()
    assert 'ENTRYPOINT ["wiredesk"]' in text
    assert "\nUSER wiredesk" in text
    cmd = next(line for line in text.splitlines() if line.startswith("CMD "))
    parse_command(yaml.safe_load(cmd.removeprefix("CMD ")))
