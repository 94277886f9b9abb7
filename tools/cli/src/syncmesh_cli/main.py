"""``syncmesh`` commands: ``up``, ``down``, ``status``, ``token``.

Exit codes: 0 ok, 1 failure, 2 usage. ``--json`` on read commands; no colour without a TTY
(rich honours ``NO_COLOR``).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.table import Table

from syncmesh_kit.auth import issue_token
from syncmesh_kit.settings import DEV_JWT_SECRET

from .stack import SERVICES, Stack, stop_background

app = typer.Typer(
    help="syncmesh: run the local stack, check it, mint development tokens.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console()
err = Console(stderr=True)

DataDir = Annotated[Path, typer.Option(help="Where the stack keeps NATS data, logs, pids.")]


def _secret() -> str:
    return os.environ.get("SYNCMESH_JWT_SECRET", DEV_JWT_SECRET)


def parse_duration(text: str) -> int:
    """``90``, ``90s``, ``15m``, ``2h``, ``7d`` → seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    text = text.strip().lower()
    try:
        if text and text[-1] in units:
            return int(float(text[:-1]) * units[text[-1]])
        return int(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is not a duration like 90s, 15m, 2h or 7d") from None


@app.command()
def token(
    user: Annotated[str, typer.Option("--user", "-u", help="The token's sub (user id).")],
    channels: Annotated[
        str | None, typer.Option(help="Comma-separated channel globs the user may read.")
    ] = None,
    write: Annotated[
        str | None, typer.Option(help="Comma-separated collection globs the user may write.")
    ] = None,
    ttl: Annotated[str, typer.Option(help="Lifetime: 90s, 15m, 2h, 7d.")] = "1h",
    admin: Annotated[bool, typer.Option(help="Add the admin claim.")] = False,
) -> None:
    """Print an HS256 JWT signed with SYNCMESH_JWT_SECRET (default: the dev secret)."""
    print(
        issue_token(
            _secret(),
            user,
            parse_duration(ttl),
            channels=[c for c in channels.split(",") if c] if channels is not None else None,
            write=[w for w in write.split(",") if w] if write is not None else None,
            admin=admin,
        )
    )


def _probe(url: str, admin_token: str) -> dict[str, Any]:
    row: dict[str, Any] = {"url": url, "ready": False, "version": None, "uptime_s": None}
    try:
        ready = httpx.get(f"{url}/readyz", timeout=2)
        row["ready"] = ready.status_code == 200
        row["checks"] = ready.json().get("checks")
        info = httpx.get(
            f"{url}/admin/info", headers={"Authorization": f"Bearer {admin_token}"}, timeout=2
        )
        if info.status_code == 200:
            row["version"] = info.json()["version"]
            row["uptime_s"] = info.json()["uptime_s"]
    except (httpx.HTTPError, ValueError) as exc:
        row["error"] = type(exc).__name__
    return row


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    check: Annotated[bool, typer.Option(help="Exit 1 unless every service is ready.")] = False,
) -> None:
    """Show every service: URL, ready, version, uptime."""
    admin_token = issue_token(_secret(), "syncmesh-cli", 60, admin=True)
    rows = {spec.name: _probe(spec.url, admin_token) for spec in SERVICES}
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        table = Table("service", "url", "ready", "version", "uptime")
        for name, row in rows.items():
            uptime = f"{row['uptime_s']:.0f}s" if row["uptime_s"] is not None else "-"
            ready = "[green]yes[/]" if row["ready"] else "[red]no[/]"
            table.add_row(name, row["url"], ready, row["version"] or "-", uptime)
        console.print(table)
    if check and not all(r["ready"] for r in rows.values()):
        raise typer.Exit(1)


@app.command()
def up(
    data_dir: DataDir = Path(".data"),
    timeout: Annotated[float, typer.Option(help="Seconds to wait for every /readyz.")] = 30.0,
) -> None:
    """Start NATS (JetStream, loopback) and all five services; Ctrl-C stops everything."""
    # SIGTERM / SIGHUP stop the stack like Ctrl-C does (the default would kill this process
    # and leave its children running).
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    stack = Stack(data_dir)
    problems = stack.check_ports()
    if problems:
        for p in problems:
            err.print(f"[red]cannot start:[/] {p}")
        raise typer.Exit(1)
    err.print(f"starting nats-server on 127.0.0.1:{stack.nats_port} and {len(SERVICES)} services …")
    # One try for everything after the first child starts: an interrupt at any point (even
    # between two prints) stops every child.
    try:
        try:
            took = stack.start(timeout)
        except (TimeoutError, RuntimeError, FileNotFoundError) as exc:
            err.print(f"[red]stack failed to start:[/] {exc}\nlogs: {stack.logs}/")
            raise typer.Exit(1) from None
        _print_ready(stack, data_dir, took)
        while True:
            time.sleep(0.5)
            dead = stack.failed()
            if dead:
                err.print(
                    f"[red]{', '.join(dead)} exited[/]; stopping the stack (logs: {stack.logs}/)"
                )
                raise typer.Exit(1)
    except KeyboardInterrupt:
        err.print("stopping …")
    finally:
        stack.stop()
        err.print("stopped; no process left behind")


def _print_ready(stack: Stack, data_dir: Path, took: float) -> None:
    table = Table("service", "url", "health")
    table.add_row(
        "nats", f"nats://127.0.0.1:{stack.nats_port}", "JetStream store " + str(data_dir / "nats")
    )
    for spec in SERVICES:
        url = stack.url(spec.name)
        table.add_row(spec.name, url, f"{url}/readyz  {url}/docs")
    console.print(table)
    console.print(f"all services ready in {took:.1f}s; logs in {stack.logs}/")
    if _secret() == DEV_JWT_SECRET:
        console.print(
            "[yellow]using the development JWT secret 'dev-secret-change-me'[/] "
            "(set SYNCMESH_JWT_SECRET for anything shared)"
        )
    dev_token = issue_token(_secret(), "dev-user", 24 * 3600, admin=True)
    console.print(f"development JWT (sub=dev-user, admin, 24h):\n{dev_token}")
    console.print("Ctrl-C stops everything.")


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@app.command()
def down(data_dir: DataDir = Path(".data")) -> None:
    """Stop a stack left running in the background."""
    n = stop_background(data_dir)
    console.print(f"stopped {n} processes" if n else "no stack running")


def main() -> None:
    app()
