"""Rendering alert events into Slack Block Kit messages and e-mails (templates/slack, templates/email)."""

from __future__ import annotations

import json
import re
import shutil
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from slack_sdk.models.blocks import Block

from bot.alerts.lifecycle import EVENT_KINDS, AlertEvent
from bot.alerts.waivers import Waiver
from bot.domain.model import Facility
from bot.domain.results import CovenantResult
from bot.domain.rulebook import AlertOptions, Covenant
from bot.domain.thresholds import Threshold
from bot.notify.render import AlertContext, format_headroom, format_value, sparkline, worst_first
from bot.notify.render_email import render_email
from bot.notify.render_slack import (
    ThreadSummary,
    render_slack,
    render_slack_group,
    render_slack_parent,
    render_slack_update,
)
from bot.notify.samples import render_test_message
from bot.notify.templates import TemplatesNotFound
from bot.notify.slack import check_blocks

AS_OF = date(2026, 11, 20)
NOW = datetime(2026, 11, 20, 6, tzinfo=timezone.utc)
HOSTILE = "<!channel> & <b>bold</b> @here"


@pytest.fixture(autouse=True)
def _no_local_settings(monkeypatch):
    monkeypatch.setenv("COVBOT_ENV_FILE", "/dev/null")
    monkeypatch.delenv("COVBOT_TEMPLATES_DIR", raising=False)


def facility(fid: str = "GPUC-003", borrower: str = "Lumen Compute Ltd") -> Facility:
    return Facility(fid, borrower, "gpu_abl", "USD", Decimal("250000000"), Decimal("212500000"),
                    date(2024, 6, 28), date(2031, 6, 28))


DSCR = Covenant(id="min-dscr", title="Minimum DSCR", metric="dscr_ttm", must_be=Threshold.parse(">= 1.25"),
                warn_at=Threshold.parse(">= 1.40"), severity="high", alert=AlertOptions(cure_days=30))
CRYPTO = Covenant(id="crypto-cover", title="Crypto cover", expr_text="crypto_value / outstanding",
                  must_be=Threshold.parse(">= 1.50"), severity="critical")
LTV = Covenant(id="max-ltv", title="Maximum LTV", metric="ltv", must_be=Threshold.parse("<= 0.70"),
               severity="high")


def alert(kind: str = "firing", status: str = "breach", previous: str = "ok", value: str = "1.18",
          covenant: Covenant = DSCR, fac: Facility | None = None, waiver: Waiver | None = None,
          reason: str | None = None, metric: str | None = None,
          ctx_changes: dict | None = None) -> tuple[AlertEvent, AlertContext]:
    fac = fac or facility()
    threshold = covenant.must_be
    number = None if status == "no_data" else Decimal(value)
    result = CovenantResult(fac.facility_id, covenant.id, metric or covenant.metric_label, AS_OF, number,
                            threshold, status, None if number is None else threshold.headroom(number), reason)
    severity = "critical" if kind == "event_of_default" else covenant.severity
    event = AlertEvent(kind, fac.facility_id, covenant.id, status, previous, severity, True, NOW, AS_OF,
                       result, waiver)
    ctx = AlertContext(
        facility=fac, covenant=covenant,
        trend=[Decimal("1.52"), Decimal("1.41"), Decimal("1.33"), Decimal("1.18")],
        explain_lines=["4 quarters counted: 2025-12-31 … 2026-09-30", "H100 mark $18,500 dated 2026-11-01"],
        forward_note="breach in ~5 months at -30 %/yr rental deflation",
    )
    return event, replace(ctx, **(ctx_changes or {}))


def waiver(until: date = date(2026, 12, 31), reason: str = "Hosting contract signed, cure expected in Q1",
           fid: str = "GPUC-003") -> Waiver:
    return Waiver(fid, "min-dscr", until, reason, "analyst@lender.example", NOW)


def slack_texts(message) -> list[str]:
    """Every text a Slack user could see: the fallback and each text in the blocks."""
    found = [message.text]

    def walk(node):
        if isinstance(node, dict):
            if isinstance(node.get("text"), str):
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(message.blocks)
    return found


def slack_visible(message) -> str:
    return "\n".join(slack_texts(message))


def assert_valid_blocks(blocks: list[dict]) -> None:
    assert len(blocks) <= 50
    for raw in blocks:
        block = Block.parse(raw)
        assert block is not None, raw
        block.validate_json()
        if raw["type"] == "section":
            assert len(raw["text"]["text"]) <= 3000
        if raw["type"] == "header":
            assert len(raw["text"]["text"]) <= 150
    assert check_blocks(blocks) == []


# -- one alert in Slack -------------------------------------------------------------------------


WORDING = {
    "firing": (dict(status="breach"), ["Covenant breach", "is in breach of *Minimum DSCR*"]),
    "escalated": (dict(status="breach", previous="warning"), ["Worse: now in breach", "got worse (warning → breach)"]),
    "improved": (dict(status="warning", previous="breach", value="1.31"),
                 ["Improving: now in the warning band", "improved (breach → warning)"]),
    "reminder": (dict(status="breach", previous="breach"), ["Reminder: still in breach", "Still open"]),
    "resolved": (dict(status="ok", previous="breach", value="1.46"), ["Cured", "is met again", "breach → cured"]),
    "event_of_default": (dict(status="breach", previous="breach"),
                         ["EVENT OF DEFAULT — cure period of 30 days elapsed", "*event of default*"]),
    "waived": (dict(status="breach", previous="breach", waiver=waiver()),
               ["Waived until 2026-12-31", "by analyst@lender.example", "Hosting contract signed"]),
    "waiver_expired": (dict(status="breach", previous="breach", waiver=waiver(until=date(2026, 11, 19))),
                       ["Waiver expired: still in breach", "cure period starts over"]),
}


def test_every_event_kind_has_its_wording_table_entry():
    assert set(WORDING) == set(EVENT_KINDS)


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_each_event_kind_renders_its_own_wording_in_slack_and_email(kind):
    changes, phrases = WORDING[kind]
    event, ctx = alert(kind, **changes)
    message = render_slack(event, ctx)
    email = render_email("risk@lender.example", [(event, ctx)], AS_OF)
    visible = slack_visible(message)
    for phrase in phrases:
        assert phrase in visible, phrase
        assert phrase.replace("*", "") in email.text, phrase
    assert_valid_blocks(message.blocks)
    assert message.text.strip()


def test_the_wording_differs_between_kinds():
    bodies = {kind: render_slack(*alert(kind, **WORDING[kind][0])).blocks[2]["text"]["text"] for kind in EVENT_KINDS}
    assert len(set(bodies.values())) == len(EVENT_KINDS)


def test_a_firing_warning_and_missing_data_are_worded_apart_from_a_breach():
    warning = slack_visible(render_slack(*alert(status="warning", value="1.33")))
    assert "Early warning" in warning and "early-warning band" in warning and "Not a breach yet" in warning
    missing = slack_visible(render_slack(*alert(status="no_data", reason="3 of 4 quarters reported")))
    assert "Data missing" in missing and "3 of 4 quarters reported" in missing
    assert "no data" in missing and "never treated as compliant" in missing


def test_every_notice_about_missing_data_says_why_and_only_once():
    reason = "BTC is pledged but has no fresh price"
    for kind, previous in (("escalated", "warning"), ("reminder", "no_data"), ("firing", "ok")):
        event, ctx = alert(kind=kind, status="no_data", previous=previous, reason=reason, covenant=LTV)
        slack = slack_visible(render_slack(event, ctx))
        assert slack.count(reason) == 1, (kind, slack)
        email = render_email("risk@lender.example", [(event, ctx)], AS_OF)
        assert email.text.count(reason) == 1 and reason in email.html, kind


def test_slack_alert_shows_what_a_lender_needs():
    message = render_slack(*alert(status="breach", previous="warning", kind="escalated"))
    visible = slack_visible(message)
    for expected in ("GPUC-003", "Lumen Compute Ltd", "Minimum DSCR", "`min-dscr`", "1.18x", "≥ 1.25x",
                     "-5.6 %", ":red_circle:", "warning → breach", "`█▆▄▁`", "1.52x → 1.18x",
                     "• 4 quarters counted: 2025-12-31 … 2026-09-30", "• H100 mark $18,500 dated 2026-11-01",
                     "breach in ~5 months at -30 %/yr rental deflation"):
        assert expected in visible, expected
    assert message.blocks[0]["type"] == "header"
    hint = message.blocks[-1]
    assert hint["type"] == "context"
    assert hint["elements"][0]["text"] == (
        'To waive: `covbot waive GPUC-003 min-dscr --until YYYY-MM-DD --reason "…" --by you@lender.example`')


def test_status_emoji_differs_per_status_and_an_event_of_default_stands_out():
    headers = {status: render_slack(*alert(status=status, value="1.33"))
               .blocks[0]["text"]["text"].split()[0] for status in ("breach", "warning", "no_data")}
    assert len(set(headers.values())) == 3
    assert render_slack(*alert("resolved", status="ok", previous="breach", value="1.5")).blocks[0]["text"]["text"] \
        .startswith(":white_check_mark:")
    assert render_slack(*alert("event_of_default", previous="breach")).text.startswith(":rotating_light:")


def test_no_waive_hint_once_cured_or_waived():
    for kind, changes in (("resolved", dict(status="ok", previous="breach", value="1.5")),
                          ("waived", dict(previous="breach", waiver=waiver()))):
        assert "covbot waive" not in slack_visible(render_slack(*alert(kind, **changes)))


def test_values_are_shown_in_the_metrics_unit():
    ltv = slack_visible(render_slack(*alert(covenant=LTV, value="0.8215", metric="ltv")))
    assert "82.2 %" in ltv and "≤ 70.0 %" in ltv and "-17.4 %" in ltv
    cover = slack_visible(render_slack(*alert(covenant=CRYPTO, value="1.2")))
    assert "1.20 against ≥ 1.50" in cover  # an expression: a plain number


def test_a_message_without_trend_explanation_or_outlook_leaves_them_out():
    event, ctx = alert(ctx_changes=dict(trend=[], explain_lines=[], forward_note=None))
    message = render_slack(event, ctx)
    assert "Trend" not in slack_visible(message) and "Outlook" not in slack_visible(message)
    assert [b["type"] for b in message.blocks] == ["header", "section", "section", "context"]


def test_long_explanations_are_cut_to_slack_limits():
    event, ctx = alert(ctx_changes=dict(explain_lines=[f"lot {i}: " + "H100 & B200 " * 20 for i in range(60)],
                                        forward_note="x" * 5000))
    message = render_slack(event, ctx)
    assert_valid_blocks(message.blocks)
    assert any(b.get("text", {}).get("text", "").endswith("…") for b in message.blocks)


def test_a_context_of_another_alert_is_refused():
    event, _ = alert()
    _, other = alert(fac=facility("GPUC-999"))
    with pytest.raises(ValueError, match="GPUC-003/min-dscr was given the context of GPUC-999/min-dscr"):
        render_slack(event, other)


# -- escaping ----------------------------------------------------------------------------------


def hostile_alert() -> tuple[AlertEvent, AlertContext]:
    cov = replace(DSCR, title="DSCR <@U0ADMIN> @channel")
    fac = facility("FAC<1>&2", HOSTILE)
    hostile_waiver = Waiver("FAC<1>&2", "min-dscr", date(2026, 12, 31), "<!everyone> see <https://x.example|here>",
                            "a@lender.example", NOW)
    return alert("waiver_expired", previous="breach", covenant=cov, fac=fac, waiver=hostile_waiver,
                 reason="<!here> reason", ctx_changes=dict(explain_lines=["note <!channel> @everyone"],
                                                           forward_note="@here <b>soon</b>"))


def test_hostile_text_arrives_escaped_in_slack_text_and_blocks():
    message = render_slack(*hostile_alert())
    for text in slack_texts(message):
        assert "<" not in text and ">" not in text, text
        for broadcast in ("@here", "@channel", "@everyone"):
            assert broadcast not in text, text
    visible = slack_visible(message)
    assert "&lt;!channel&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in visible
    assert "FAC&lt;1&gt;&amp;2" in visible
    assert "&amp;amp;" not in visible  # escaped once, not twice


def test_hostile_text_arrives_escaped_in_grouped_and_thread_messages():
    event, ctx = hostile_alert()
    group = render_slack_group([(event, ctx), alert()], "#credit-alerts <!channel>")
    parent = render_slack_parent(ThreadSummary.opened(event, ctx))
    for message in (group, parent):
        for text in slack_texts(message):
            assert "<" not in text and ">" not in text, text
            assert "@here" not in text and "@channel" not in text, text
        assert "&lt;!channel&gt; &amp; &lt;b&gt;" in slack_visible(message)


def test_hostile_text_arrives_escaped_not_as_markup_in_the_email():
    email = render_email("risk@lender.example", [hostile_alert()], AS_OF)
    assert "<b>" not in email.html and "<!channel>" not in email.html and "<@U0ADMIN>" not in email.html
    assert "&lt;!channel&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in email.html
    assert "&lt;b&gt;soon&lt;/b&gt;" in email.html
    assert HOSTILE in email.text  # plain text needs no escaping


def test_the_email_subject_is_one_line_whatever_the_borrower_name():
    event, ctx = alert(fac=facility(borrower="Evil Ltd\r\nBcc: everyone@example.com"))
    subject = render_email("risk@lender.example", [(event, ctx)], AS_OF).subject
    assert "\r" not in subject and "\n" not in subject
    assert "Evil Ltd Bcc: everyone@example.com" in subject


# -- grouped Slack messages ----------------------------------------------------------------------


def btc_crash() -> list[tuple[AlertEvent, AlertContext]]:
    """40 events: crypto-cover on 28 facilities (22 breaches, 6 warnings), LTV on 12 (9 and 3)."""
    items = []
    for i in range(28):
        status, value = ("breach", f"1.{10 + i % 30:02d}") if i < 22 else ("warning", "1.55")
        items.append(alert(status=status, covenant=CRYPTO, value=value,
                           fac=facility(f"MINER-{i:03d}", f"Hashrate Holdings {i}")))
    for i in range(12):
        status, value = ("breach", "0.85") if i < 9 else ("warning", "0.69")
        items.append(alert(status=status, covenant=LTV, value=value, metric="ltv",
                           fac=facility(f"GPUC-{i:03d}", f"Lumen Compute {i}")))
    return items


def section_lines(message) -> list[str]:
    return [line for b in message.blocks if b["type"] == "section" for line in b["text"]["text"].split("\n")]


def test_forty_events_become_one_message_within_block_kit_limits():
    message = render_slack_group(btc_crash(), "#credit-alerts")
    assert_valid_blocks(message.blocks)
    headline = "40 covenant events: 31 breaches, 9 warnings — crypto-cover on 28 facilities"
    assert message.blocks[0]["text"]["text"] == headline
    assert message.text == headline
    assert len(section_lines(message)) == 40
    assert "more not shown" not in slack_visible(message)


def test_grouped_lines_are_worst_first_by_severity_then_headroom():
    lines = section_lines(render_slack_group(btc_crash(), "#credit-alerts"))
    # crypto-cover is critical, LTV high: every crypto line first; breaches before warnings;
    # the least headroom (1.10 against 1.50) leads.
    assert lines[0].startswith(":red_circle: *MINER-000*") and "1.10 vs ≥ 1.50" in lines[0]
    assert all("Crypto cover" in line for line in lines[:28])
    assert all("Maximum LTV" in line for line in lines[28:])
    statuses = [line.split()[0] for line in lines[:28]]
    assert statuses == [":red_circle:"] * 22 + [":large_yellow_circle:"] * 6


def test_events_beyond_the_line_limit_are_counted_as_more():
    items = btc_crash() + [alert(status="warning", value="1.3", fac=facility("GPUC-900"))]
    message = render_slack_group(items, "#credit-alerts")
    assert_valid_blocks(message.blocks)
    assert len(section_lines(message)) == 40
    assert "+1 more not shown" in slack_visible(message)
    assert "GPUC-900" not in slack_visible(message)  # the mildest one is the one left out


def test_five_hundred_events_stay_within_limits_and_count_the_rest():
    items = [alert(status="breach", covenant=CRYPTO, value="1.2", fac=facility(f"MINER-{i:03d}", f"Miner {i}"))
             for i in range(500)]
    message = render_slack_group(items, "C0123456789")
    assert_valid_blocks(message.blocks)
    assert message.blocks[0]["text"]["text"].startswith("500 covenant events: 500 breaches")
    assert len(section_lines(message)) == 40
    assert "+460 more not shown" in slack_visible(message)


def test_long_lines_are_packed_into_sections_and_the_block_budget_is_kept():
    long_name = "Very Long Borrower Name Holdings & Co " * 12
    items = [alert(status="breach", covenant=CRYPTO, value="1.2", fac=facility(f"MINER-{i:03d}", long_name))
             for i in range(500)]
    message = render_slack_group(items, "#credit-alerts", max_lines=500)
    assert_valid_blocks(message.blocks)
    shown = len(section_lines(message))
    hidden = int(slack_visible(message).split("+")[1].split(" more")[0])
    assert 40 < shown < 500 and shown + hidden == 500
    assert sum(b["type"] == "section" for b in message.blocks) > 1


def test_a_grouped_message_needs_events():
    with pytest.raises(ValueError, match="at least one"):
        render_slack_group([], "#credit-alerts")


# -- the thread parent ---------------------------------------------------------------------------


def test_thread_parent_shows_current_status_since_when_and_the_last_event():
    event, ctx = alert(status="warning", value="1.33")
    summary = ThreadSummary.opened(event, ctx)
    parent = slack_visible(render_slack_parent(summary))
    assert "WARNING since 2026-11-20" in parent and "1.33x against ≥ 1.25x" in parent
    assert "opened on 2026-11-20" in parent

    later = replace(alert("escalated", status="breach", previous="warning", value="1.18")[0],
                    as_of=date(2026, 11, 27))
    updated = render_slack_update(summary, later)
    assert_valid_blocks(updated.blocks)
    text = slack_visible(updated)
    assert "BREACH since 2026-11-27" in text and "got worse on 2026-11-27" in text and "1.18x" in text


def test_thread_summary_keeps_since_while_the_status_holds_and_closes_on_cure():
    event, ctx = alert(status="breach")
    summary = ThreadSummary.opened(event, ctx)
    waived = replace(alert("waived", previous="breach", waiver=waiver())[0], as_of=date(2026, 11, 27))
    summary = summary.after(waived)
    assert summary.since == AS_OF and summary.waived_until == date(2026, 12, 31)
    assert "waived until 2026-12-31" in slack_visible(render_slack_parent(summary))
    cured = replace(alert("resolved", status="ok", previous="breach", value="1.5")[0], as_of=date(2026, 12, 4))
    summary = summary.after(cured)
    assert not summary.open and summary.waived_until is None
    parent = render_slack_parent(summary)
    assert "CURED since 2026-12-04" in slack_visible(parent) and "this alert is closed" in slack_visible(parent)
    assert parent.blocks[0]["text"]["text"].startswith(":white_check_mark:")


def test_thread_summary_refuses_an_event_of_another_alert():
    summary = ThreadSummary.opened(*alert())
    with pytest.raises(ValueError, match="cannot update the thread"):
        summary.after(alert(fac=facility("GPUC-999"))[0])


# -- e-mail -------------------------------------------------------------------------------------


def test_one_email_groups_several_alerts_with_inlined_styles_and_a_text_part():
    items = [alert(status="warning", value="1.33", fac=facility("GPUC-001", "Alpha Compute")),
             alert("event_of_default", previous="breach", value="1.02", fac=facility("GPUC-002", "Beta Hosting")),
             alert(covenant=LTV, value="0.8215", metric="ltv", fac=facility("GPUC-003", "Gamma Miner"))]
    email = render_email("risk@lender.example", items, AS_OF)
    assert email.subject == ("[covbot] 3 covenant alerts: 1 event of default, 1 breach, 1 warning (2026-11-20)")
    assert "<style" not in email.html
    assert 'class="alert-title title-breach title-default" style="' in email.html
    assert "background-color:#7a0916" in email.html  # the event-of-default colour, inlined
    assert 'class="cell num" style="' in email.html
    assert email.html.count('class="alert"') == 3
    for name in ("Alpha Compute", "Beta Hosting", "Gamma Miner"):
        assert name in email.html and name in email.text
    # worst first: the event of default, then the LTV breach, then the warning
    assert email.text.index("Beta Hosting") < email.text.index("Gamma Miner") < email.text.index("Alpha Compute")
    assert "EVENT OF DEFAULT — cure period of 30 days elapsed" in email.text
    assert "82.2 %" in email.text and "≤ 70.0 %" in email.text and "-17.4 %" in email.text


def test_email_shows_value_threshold_headroom_bar_trend_change_and_waive_hint():
    import html as html_module

    email = render_email("risk@lender.example", [alert("escalated", previous="warning")], AS_OF)
    html = email.html
    shown = html_module.unescape(html)  # what the reader sees (quotes may be written &#34;)
    for expected in ("1.18x", "≥ 1.25x", "-5.6 %", "█▆▄▁", "warning → breach",
                     'covbot waive GPUC-003 min-dscr --until YYYY-MM-DD --reason "…" --by you@lender.example',
                     "H100 mark $18,500 dated 2026-11-01", "breach in ~5 months"):
        assert expected in shown, expected
    assert 'class="bar"' in html and 'width="11%"' in html and 'width="89%"' in html
    assert "covbot waive GPUC-003 min-dscr --until YYYY-MM-DD" in email.text


def test_an_email_needs_alerts():
    with pytest.raises(ValueError, match="risk@lender.example needs at least one"):
        render_email("risk@lender.example", [], AS_OF)


# -- templates location ----------------------------------------------------------------------------


def test_templates_are_found_from_another_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    event, ctx = alert()
    assert "Covenant breach" in render_slack(event, ctx).text
    assert render_email("risk@lender.example", [(event, ctx)], AS_OF).html
    assert render_slack_group(btc_crash(), "#credit-alerts").blocks


def test_covbot_templates_dir_points_at_another_copy(tmp_path, monkeypatch):
    from bot.notify.templates import REPO_TEMPLATES

    copy = tmp_path / "templates"
    shutil.copytree(REPO_TEMPLATES, copy)
    alert_j2 = copy / "slack" / "alert.j2"
    alert_j2.write_text(alert_j2.read_text().replace("{{ a.kind_title }}: {{ a.facility_id }}",
                                                     "CUSTOM {{ a.kind_title }}: {{ a.facility_id }}"))
    monkeypatch.setenv("COVBOT_TEMPLATES_DIR", str(copy))
    with composition_root():  # the composition root finds the folder from the setting
        assert render_slack(*alert()).text.startswith(":red_circle: CUSTOM Covenant breach")


def test_a_missing_templates_dir_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("COVBOT_TEMPLATES_DIR", str(tmp_path / "nowhere"))
    with composition_root(), pytest.raises(TemplatesNotFound, match="nowhere, which is not a folder"):
        render_slack(*alert())


@contextmanager
def composition_root():
    from bot import bootstrap
    from bot.notify import templates

    try:
        with bootstrap.app():
            yield
    finally:  # back to the default folder for the other tests
        templates.use_templates(lambda: templates.find_templates(None))


# -- test messages and formatting -------------------------------------------------------------------


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_a_test_message_renders_for_every_kind(kind):
    message = render_test_message(kind)
    assert message.slack.text.startswith("[TEST] ")
    assert "covbot notify test" in message.slack.blocks[0]["elements"][0]["text"]
    assert_valid_blocks(message.slack.blocks)
    assert message.email.subject.startswith("[TEST] [covbot]")
    assert "Example GPU Cloud Ltd (test)" in message.email.text


def test_a_test_message_of_an_unknown_kind_names_the_choices():
    with pytest.raises(ValueError, match="choose one of firing, escalated"):
        render_test_message("exploded")


def test_sparkline_scales_between_the_lowest_and_highest_value():
    assert sparkline([Decimal(v) for v in ("1", "2", "3", "4", "5", "6", "7", "8")]) == "▁▂▃▄▅▆▇█"
    assert sparkline([Decimal("1.5"), Decimal("0.5")]) == "█▁"
    assert sparkline([Decimal("2")] * 3) == "▄▄▄"
    assert sparkline([]) == ""
    assert len(sparkline([Decimal(i) for i in range(100)])) == 24


def test_headroom_and_values_are_formatted_for_lenders():
    assert format_headroom(Decimal("-0.056")) == "-5.6 %"
    assert format_headroom(Decimal("0.12")) == "+12.0 %"
    assert format_headroom(Decimal("0")) == "0.0 %"
    assert format_headroom(None) == "n/a"
    assert format_value("ltv", Decimal("0.70")) == "70.0 %"
    assert format_value("outstanding", Decimal("212500000.40"), "USD") == "USD 212,500,000"
    assert format_value("days_since_period_end", Decimal("136"), "USD") == "136 days"
    assert format_value("dscr_ttm", None) == "no data"
    assert json.dumps(format_value("cfads_ttm", Decimal("-1250000"), "EUR")) == '"EUR -1,250,000"'
    # an expression has no known unit: two decimals, so value and threshold line up
    assert format_value("cash / (debt_service_ttm / 4)", Decimal("0.8201")) == "0.82"
    assert format_value("crypto_value / outstanding", Decimal("1.5")) == "1.50"
    assert format_value("x", Decimal("0.0123")) == "0.0123"
    assert format_value("x", Decimal("1234567.891")) == "1,234,567.89"


# -- many alerts: caps -----------------------------------------------------------------------------


def many_alerts(n: int) -> list[tuple]:
    covenants = (DSCR, LTV, CRYPTO)
    items = []
    for i in range(n):
        covenant = covenants[i % 3]
        status = ("breach", "warning", "no_data")[i % 3]
        items.append(alert(status=status, value=f"1.{i % 97:02d}", covenant=covenant,
                           metric="ltv" if covenant is LTV else None,
                           fac=facility(f"BF-{i:07d}", f"Borrower {i} =HYPERLINK(\"x\") Compute")))
    return items


def mime_size(email) -> int:
    from bot.notify.email import EmailTransport
    from bot.notify.messages import OutgoingEmail

    message = OutgoingEmail(("risk@lender.example",), email.subject, email.text, email.html, "<n-1@covbot>",
                            email.attachments)
    return len(bytes(EmailTransport("localhost", security="none").build(message)))


def test_a_big_email_shows_the_worst_fifty_ten_in_full_counts_all_and_attaches_the_full_list():
    import csv
    import io

    alerts = many_alerts(3000)
    email = render_email("risk@lender.example", alerts, AS_OF)
    assert email.subject.startswith("[covbot] 3000 covenant alerts: ")
    assert email.html.count('class="alert"') == 10  # the worst ten in full
    rows = re.findall(r'<td class="list-cell"[^>]*>[^<]*?(BF-\d+)</td>', email.html)  # then a row each
    worst = [e.facility_id for e, _ in sorted(alerts, key=worst_first)]
    assert rows == worst[10:50]
    assert ("The 50 worst of 3000 alerts follow, the 10 worst in full; all 3000 are in the attached "
            "covbot-alerts-2026-11-20.csv") in email.text
    assert "The next 40, worst first:" in email.text and f"  - {worst[10]} " in email.text
    assert "Minimum DSCR (min-dscr): 1000 breaches" in email.text
    [attachment] = email.attachments
    assert attachment.filename == "covbot-alerts-2026-11-20.csv" and attachment.content_type == "text/csv"
    rows = list(csv.reader(io.StringIO(attachment.data.decode("utf-8"))))
    assert rows[0][:3] == ["facility_id", "borrower", "covenant_id"] and len(rows) == 3001
    assert rows[1][7] == "critical" and rows[-1][7] == "high"  # worst first
    assert all(not r[1].startswith("=") for r in rows[1:])  # no formula reaches a spreadsheet
    assert mime_size(email) <= 1_000_000


def test_an_email_about_any_number_of_alerts_stays_under_one_megabyte():
    email = render_email("risk@lender.example", many_alerts(12_000), AS_OF)
    assert email.html.count('class="alert"') <= 50
    [attachment] = email.attachments
    assert attachment.filename.endswith(".csv.zip") and attachment.content_type == "application/zip"
    assert mime_size(email) <= 1_000_000


def test_when_even_the_zipped_list_does_not_fit_the_worst_rows_are_kept_and_the_rest_counted():
    import io
    import zipfile

    from bot.notify.alert_list import alert_list, csv_bytes, encoded_size

    attachment, kept, total = alert_list(csv_bytes(many_alerts(900)), AS_OF, room=8_000)
    assert total == 900
    assert 0 < kept < 900 and encoded_size(attachment.data) <= 8_000
    text = zipfile.ZipFile(io.BytesIO(attachment.data)).read("covbot-alerts-2026-11-20.csv").decode("utf-8")
    assert text.splitlines()[-1].startswith(f"{900 - kept} more alert(s) left out")


def test_a_single_alert_email_has_no_attachment():
    assert render_email("risk@lender.example", [alert()], AS_OF).attachments == ()


def test_a_grouped_slack_message_points_at_the_digest_for_what_it_does_not_show():
    message = render_slack_group(many_alerts(5000), "#credit-alerts")
    assert_valid_blocks(message.blocks)
    more = slack_visible(message)
    assert "more not shown" in more and "covbot digest --as-of 2026-11-20" in more
    assert len(json.dumps({"text": message.text, "blocks": message.blocks})) < 50_000


def test_the_fast_inliner_merges_class_rules_in_stylesheet_order_and_refuses_other_selectors():
    from bot.notify.inline import NotClassOnly, inline_classes

    page = ('<html><head><style>.a { color: red; padding: 1px; } .b { color: blue; }</style></head>'
            '<body><td class="b a" style="margin:0">x</td><p class="c">y</p></body></html>')
    out = inline_classes(page)
    assert "<style" not in out
    assert '<td class="b a" style="padding:1px; color:blue; margin:0">x</td>' in out  # .b comes later: blue
    assert '<p class="c">y</p>' in out
    with pytest.raises(NotClassOnly):
        inline_classes("<style>div p { color: red; }</style><div><p>x</p></div>")
