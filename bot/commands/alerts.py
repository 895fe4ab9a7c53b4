"""Alert commands: waivers, the audit trail, the outbox, and a test notification.

    covbot waive FACILITY COVENANT --until DATE --reason TEXT --by EMAIL
    covbot waivers [--all]            covbot unwaive FACILITY COVENANT --by EMAIL
    covbot history FACILITY [COVENANT]
    covbot outbox                     covbot outbox retry [ID | --all]      covbot outbox dispatch
    covbot notify test --slack CHANNEL | --email ADDRESS
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from bot.bootstrap import App
    from bot.domain.rulebook import RuleSet


def _short(text: str | None, width: int = 90) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _when(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S") if moment else "—"


def register(app: typer.Typer) -> None:
    from bot import bootstrap
    from bot.alerts.lifecycle import event_words
    from bot.commands.common import handle_errors
    from bot.dates import parse_date, today_utc, utc_now
    from bot.store.db import session_scope
    from bot.errors import UsageError
    from bot.render.console import make_console

    outbox_app = typer.Typer(help="The outbox of notifications; without a command, list the backlog and dead letters.",
                             invoke_without_command=True)
    notify_app = typer.Typer(help="Notification checks.", no_args_is_help=True)
    app.add_typer(outbox_app, name="outbox")
    app.add_typer(notify_app, name="notify")

    # -- waivers -------------------------------------------------------------------------------

    @app.command()
    @handle_errors
    def waive(
        facility_id: str = typer.Argument(..., help="The facility whose covenant is waived."),
        covenant_id: str = typer.Argument(..., help="The covenant id (as in the rule files)."),
        until: str = typer.Option(..., "--until", help="Last test date the waiver covers, YYYY-MM-DD (inclusive)."),
        reason: str = typer.Option(..., "--reason", help="Why the lender excuses it (kept in the audit trail)."),
        by: str = typer.Option(..., "--by", help="E-mail address of the person granting the waiver."),
        rules: Optional[str] = typer.Option(None, "--rules", help="Rule file or folder to check the covenant id against (default: COVBOT_RULES, else rules/)."),
    ) -> None:
        """Waive a covenant at a facility until a date: the alert shows as waived and sends nothing but a cure."""
        from bot.usecases.waive import grant

        problems = []
        try:
            until_day = parse_date(until, "--until")
        except UsageError as exc:
            problems.append(str(exc) + ".")
            until_day = None
        with bootstrap.app() as app, session_scope(app.engine) as session:
            waiver = grant(session, facility_id, covenant_id, until_day, reason, by, app.clock(), today=today_utc(),
                           ruleset=_ruleset_if_any(app, rules), problems=problems)
        make_console().print(
            f"Waived [bold]{escape(facility_id)}[/bold] · {escape(covenant_id)} until {waiver.until.isoformat()} "
            f"(by {escape(waiver.by)}). It applies from the next `covbot check`.")

    @app.command()
    @handle_errors
    def waivers(
        show_all: bool = typer.Option(False, "--all", help="Also list withdrawn and replaced waivers."),
    ) -> None:
        """List the waivers in force (and, with --all, every waiver ever granted)."""
        from bot.alerts import store

        with bootstrap.app() as app, session_scope(app.engine) as session:
            records = store.list_waivers(session, include_withdrawn=show_all)
        console = make_console()
        if not records:
            console.print("No waivers in force." if not show_all else "No waivers were ever granted.")
            return
        today = today_utc()
        table = Table(title="Waivers", title_justify="left", header_style="bold")
        for column in ("Facility", "Covenant", "Until", "Reason", "Granted by", "Granted at", "State"):
            table.add_column(column, overflow="fold")
        for r in records:
            w = r.waiver
            state = ("withdrawn by " + (r.withdrawn_by or "?")) if r.withdrawn_at else (
                "expired" if w.until < today else "in force")
            table.add_row(escape(w.facility_id), escape(w.covenant_id), w.until.isoformat(), escape(w.reason),
                          escape(w.by), _when(w.created_at), state)
        console.print(table)

    @app.command()
    @handle_errors
    def unwaive(
        facility_id: str = typer.Argument(..., help="The facility."),
        covenant_id: str = typer.Argument(..., help="The covenant id."),
        by: str = typer.Option(..., "--by", help="E-mail address of the person withdrawing the waiver."),
    ) -> None:
        """Withdraw a waiver: at the next check a still-bad covenant re-opens its alert."""
        from bot.alerts import store
        if "@" not in by or not by.strip():
            raise UsageError(f"--by must be the e-mail address of the person withdrawing the waiver, got {by!r}.")
        with bootstrap.app() as app, session_scope(app.engine) as session:
            withdrawn = store.withdraw_waiver(session, facility_id, covenant_id, by.strip(), utc_now())
        if withdrawn is None:
            raise UsageError(f"There is no waiver in force for {facility_id} · {covenant_id}; nothing was changed.")
        make_console().print(f"Withdrew the waiver of [bold]{escape(facility_id)}[/bold] · {escape(covenant_id)} "
                             f"(until {withdrawn.until.isoformat()}).")

    # -- audit trail -----------------------------------------------------------------------------

    @app.command()
    @handle_errors
    def history(
        facility_id: str = typer.Argument(..., help="The facility."),
        covenant_id: Optional[str] = typer.Argument(None, help="Only this covenant."),
        limit: int = typer.Option(200, "--limit", min=1, help="Show at most the latest N entries."),
    ) -> None:
        """The audit trail of a facility: alert state changes, waivers and every delivery attempt."""
        from bot.alerts import store

        with bootstrap.app() as app, session_scope(app.engine) as session:
            rows = store.history(session, facility_id, covenant_id, limit)
        console = make_console()
        if not rows:
            console.print(f"No alert history for {escape(facility_id)}"
                          + (f" · {escape(covenant_id)}" if covenant_id else "") + ".")
            return
        table = Table(title=f"History of {escape(facility_id)}" + (f" · {escape(covenant_id)}" if covenant_id else ""),
                      title_justify="left", header_style="bold")
        for column in ("At (UTC)", "Covenant", "What", "Test date", "Status", "By", "Detail"):
            table.add_column(column, overflow="fold")
        for r in rows:
            table.add_row(_when(r.at), escape(r.covenant_id or ""), escape(event_words(r.kind)),
                          r.as_of.isoformat() if r.as_of else "", escape(r.status or ""), escape(r.actor or ""),
                          escape(r.detail or ""))
        console.print(table)

    # -- outbox ----------------------------------------------------------------------------------

    @outbox_app.callback()
    @handle_errors
    def outbox_list(ctx: typer.Context) -> None:
        """List the messages waiting for delivery and the dead letters."""
        if ctx.invoked_subcommand is not None:
            return
        from bot.notify import outbox

        with bootstrap.app() as app, session_scope(app.engine) as session:
            rows = outbox.backlog(session)
            counts = outbox.counts(session)
        console = make_console()
        console.print(f"Outbox: {counts['queued']} queued, {counts['retry']} to retry, {counts['sending']} sending, "
                      f"{counts['dead']} dead, {counts['sent']} sent.")
        if not rows:
            return
        table = Table(title_justify="left", header_style="bold")
        for column in ("ID", "State", "To", "What", "Alerts", "Tries", "Next try (UTC)", "Last error"):
            table.add_column(column, overflow="fold")
        for r in rows:
            alerts = outbox.alerts_of(r)
            about = ", ".join(f"{f}/{c}" for f, c in alerts[:3]) + (f" +{len(alerts) - 3}" if len(alerts) > 3 else "")
            table.add_row(str(r.id), r.state, escape(f"{r.transport} {r.route}"), escape(r.kind), escape(about),
                          str(r.attempts), "—" if r.state == "dead" else _when(r.next_attempt_at),
                          escape(_short(r.last_error)))
        console.print(table)

    @outbox_app.command("show")
    @handle_errors
    def outbox_show(
        message: Optional[str] = typer.Argument(None, help="The message id (or notification id); default the latest."),
        facility: Optional[str] = typer.Option(None, "--facility", help="The latest message about this facility."),
        transport: Optional[str] = typer.Option(None, "--transport", help="slack or email."),
    ) -> None:
        """Show a notification as it was (or will be) sent: Slack blocks or the e-mail's text."""
        from bot.notify import outbox
        from bot.render.messages import show_message

        if transport not in (None, "slack", "email"):
            raise UsageError("--transport must be slack or email.")
        with bootstrap.app() as app, session_scope(app.engine) as session:
            if message is not None:
                row = outbox.find_message(session, message)
                if row is None:
                    raise UsageError(f"No outbox message {message!r}; `covbot outbox` lists them.")
            else:
                row = outbox.latest_message(session, facility_id=facility, transport=transport)
                if row is None:
                    raise UsageError("No message in the outbox matches; run `covbot check` first.")
            show_message(make_console(), row, outbox.alerts_of(row))

    @outbox_app.command("retry")
    @handle_errors
    def outbox_retry(
        message: Optional[str] = typer.Argument(None, help="The message id (or notification id) of a dead letter."),
        retry_all: bool = typer.Option(False, "--all", help="Re-queue every dead letter."),
    ) -> None:
        """Put dead letters back in the queue with a fresh count of tries, then deliver them."""
        from bot.notify import outbox

        if (message is None) == (not retry_all):
            raise UsageError("Give the id of one dead letter, or --all (not both).")
        with bootstrap.app() as app:
            with session_scope(app.engine) as session:
                if message is not None:
                    found = outbox.find_message(session, message)
                    if found is None:
                        raise UsageError(f"No outbox message {message!r}; `covbot outbox` lists them.")
                    if found.state != "dead":
                        raise UsageError(f"Message {found.id} is {found.state}, not a dead letter; "
                                         "only dead letters are retried.")
                requeued = outbox.retry_dead(session, app.clock(), message)
            console = make_console()
            console.print(f"Re-queued {len(requeued)} dead letter(s).")
            if requeued:
                console.print(app.dispatch().summary(app.settings))

    @outbox_app.command("dispatch")
    @handle_errors
    def outbox_dispatch(
        budget: Optional[float] = typer.Option(None, "--budget", min=0,
                                               help="Seconds to keep delivering, retries included (default: COVBOT_DISPATCH_BUDGET_SECONDS)."),
    ) -> None:
        """Deliver the queued messages now (what is not done within the budget stays queued)."""
        with bootstrap.app() as app:
            report = app.dispatch(budget)
            make_console().print(report.summary(app.settings))
        if report.dead:
            raise typer.Exit(1)

    # -- test notification ---------------------------------------------------------------------

    @notify_app.command("test")
    @handle_errors
    def notify_test(
        slack: Optional[str] = typer.Option(None, "--slack", help="Send a test message to this Slack channel (#name or id)."),
        email: Optional[str] = typer.Option(None, "--email", help="Send a test e-mail to this address."),
    ) -> None:
        """Send a test notification through the outbox, to check the Slack or mail settings."""
        from bot.alerts.advance import queue_test_message

        if (slack is None) == (email is None):
            raise UsageError("Give exactly one of --slack CHANNEL or --email ADDRESS.")
        if email is not None and "@" not in email:
            raise UsageError(f"--email must be an e-mail address, got {email!r}.")
        with bootstrap.app() as app:
            with session_scope(app.engine) as session:
                row = queue_test_message(session, app.clock(), slack_channel=slack, email=email)
                session.flush()
                ref = row.id
            report = app.dispatch()
            make_console().print(f"Test message {ref} queued. " + report.summary(app.settings))
        if report.dead or report.retrying:
            raise typer.Exit(1)


def _ruleset_if_any(app: App, rules: str | None) -> RuleSet | None:
    """The rule set to check a covenant id against, or None when there is none at hand."""
    if rules is None and not Path(app.settings.rules).exists():
        return None
    return app.rules(rules)
