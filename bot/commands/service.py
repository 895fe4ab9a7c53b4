"""`covbot run` (the long-running service) and `covbot status` (what it is doing)."""

from __future__ import annotations

from enum import Enum
from typing import Optional

import typer


class StatusFormat(str, Enum):
    table = "table"
    json = "json"


def _status_table(console, status) -> None:
    from rich.markup import escape
    from rich.table import Table

    who = "this instance is the leader" if status.leader else "this instance is not the leader"
    if status.instance is None:
        who = "no covbot run is running on this host"
    leader = (f"{escape(status.leader_host)} pid {status.leader_pid} (heartbeat {status.leader_heartbeat_at}"
              f"{'' if status.leader_alive else ', stale'})") if status.leader_host else "none recorded"
    console.print(f"[bold]Leader:[/bold] {leader}; {who}.")
    jobs = Table(title="Jobs")
    for column in ("job", "last run", "state", "next run", "last error"):
        jobs.add_column(column)
    for j in status.jobs:
        jobs.add_row(j.job, j.last_finished_at or "-", j.last_state or "-", j.next_run_at or "-",
                     escape(f"{j.last_error} ({j.last_error_at})") if j.last_error else "-")
    console.print(jobs)
    if status.rules:
        r = status.rules
        console.print(f"[bold]Rules:[/bold] {escape(', '.join(r['files']))} (sha256 {r['sha256'][:12]}, loaded {r['loaded_at']})")
    backlog = ", ".join(f"{state} {n}" for state, n in status.outbox.items())
    console.print(f"[bold]Outbox:[/bold] {backlog}")
    for d in status.dead_letters:
        console.print(f"  dead letter {d['id']} to {escape(d['route'])}: {escape(d['last_error'] or '')}")


def register(app: typer.Typer) -> None:
    from bot import bootstrap
    from bot.commands.common import handle_errors
    from bot.render.console import make_console

    @app.command("run")
    @handle_errors
    def run(
        rules: Optional[str] = typer.Option(None, "--rules", help="Rule file or folder (default: COVBOT_RULES, else rules/)."),
        metrics_port: Optional[int] = typer.Option(
            None, "--metrics-port", help="Serve Prometheus /metrics and /healthz on 127.0.0.1 at this port."),
    ) -> None:
        """Run the service: scheduled evaluations, digests, outbox delivery, inbox and hot reload of rules."""
        from bot.config import load_settings
        from bot.daemon.logging import configure_logging
        from bot.daemon.metrics import serve
        from bot.daemon.scheduler import Service

        settings = load_settings()
        configure_logging(settings.log_format, settings.log_level)
        service = Service(bootstrap.App(settings), rules)  # the service closes its App when it stops
        # the port first: a port in use is refused before the service takes the leadership
        server = serve(service.metrics, metrics_port, service.health) if metrics_port is not None else None
        try:
            service.start()
        except BaseException:
            if server is not None:
                server.shutdown()
            raise
        try:
            service.run_until_signalled()
        finally:
            if server is not None:
                server.shutdown()
            if not service.stopping.is_set():
                service.stop()

    @app.command("status")
    @handle_errors
    def status(
        fmt: StatusFormat = typer.Option(StatusFormat.table, "--format", help="table or json."),
        pid: Optional[int] = typer.Option(None, "--pid", help="Ask about the covbot run with this process id (default: the one on this host)."),
    ) -> None:
        """Show the service: last and next run of each job, the live rule set, the outbox and the leader."""
        from bot.daemon.status import service_status

        with bootstrap.app() as app:
            report = service_status(app.engine, app.clock(), pid=pid)
        if fmt is StatusFormat.json:
            typer.echo(report.as_json())
        else:
            _status_table(make_console(), report)
