"""Acting from Slack, the pure parts: who may act, what Slack sent, the modal, acknowledged reminders."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta

import pytest

from bot.alerts.lifecycle import advance
from bot.alerts.waivers import waiver_problems
from bot.notify.render_slack import ACTIONS_BLOCK_ID, actions_block
from bot.slackapp.access import Access, SlackUser
from bot.slackapp.blocks import (
    MAX_BLOCKS,
    MAX_SECTION,
    submitted,
    text_message,
    waive_modal,
)
from bot.slackapp.requests import BadRequest, alert_key, from_form
from tests.unit.test_lifecycle import Timeline, clock, covenant, result

ANA = SlackUser("U0ANA", "ana@lender.example")
BOB = SlackUser("U0BOB", "bob@lender.example")
NOBODY = SlackUser("U0EVE", None)


def test_approvers_by_id_or_email_and_readers_default_to_anyone():
    access = Access.from_settings("U0ANA, Bob@Lender.example", None)
    assert access.may_act(ANA) and access.may_act(BOB)
    assert not access.may_act(NOBODY)
    assert access.may_read(NOBODY)  # readers default: *


def test_unset_approvers_means_nobody_acts_and_readers_can_be_limited():
    access = Access.from_settings("", "U0ANA")
    assert not access.may_act(ANA)
    assert access.may_read(ANA) and not access.may_read(BOB)
    approver = Access.from_settings("U0BOB", "U0ANA")
    assert approver.may_read(BOB)  # an approver may also read


def test_actor_names_email_and_slack_id_and_by_falls_back_to_slack_id():
    assert ANA.actor == "ana@lender.example (Slack U0ANA)" and ANA.by == "ana@lender.example"
    assert NOBODY.by == "slack:U0EVE"
    assert waiver_problems("F", "C", date(2026, 1, 2), "why", NOBODY.by, date(2026, 1, 1)) == []


def test_a_slash_command_and_an_interaction_payload_parse_into_one_shape():
    command = from_form("command=%2Fcovbot&text=explain+FAC-1+max-draw&user_id=U0ANA&channel_id=C1"
                        "&response_url=http%3A%2F%2Fx%2Fr&trigger_id=t1&token=legacy")
    assert (command.kind, command.text, command.user_id, command.response_url) == (
        "command", "explain FAC-1 max-draw", "U0ANA", "http://x/r")
    value = json.dumps({"facility_id": "FAC-1", "covenant_id": "max-draw"})
    payload = {"type": "block_actions", "user": {"id": "U0ANA"}, "trigger_id": "t2",
               "container": {"channel_id": "C1", "message_ts": "1.2"},
               "actions": [{"action_id": "covbot_ack", "value": value}]}
    click = from_form("payload=" + json.dumps(payload).replace("&", "%26"))
    assert (click.kind, click.action_id, click.channel_id, click.message_ts) == ("block_actions", "covbot_ack", "C1", "1.2")
    assert alert_key(click.value) == ("FAC-1", "max-draw")
    with pytest.raises(BadRequest):
        alert_key('{"facility_id": "FAC-1"}')
    with pytest.raises(BadRequest):
        from_form("payload=not-json")


def test_buttons_carry_the_alert_as_json_in_each_value():
    block = actions_block("FAC-1", "max-draw")
    assert block["block_id"] == ACTIONS_BLOCK_ID
    assert [b["action_id"] for b in block["elements"]] == ["covbot_ack", "covbot_waive", "covbot_explain"]
    assert {json.loads(b["value"])["facility_id"] for b in block["elements"]} == {"FAC-1"}


def test_waive_modal_has_the_contract_ids_and_reads_its_inputs():
    view = waive_modal("FAC-1", "max-draw", "Hashers <Inc> & Co", date(2026, 12, 3))
    assert view["callback_id"] == "covbot_waive"
    assert json.loads(view["private_metadata"]) == {"facility_id": "FAC-1", "covenant_id": "max-draw"}
    inputs = {b["block_id"]: b["element"] for b in view["blocks"] if b["type"] == "input"}
    assert inputs["until"]["type"] == "datepicker" and inputs["until"]["action_id"] == "until"
    assert inputs["reason"]["type"] == "plain_text_input" and inputs["reason"]["action_id"] == "reason"
    assert "&lt;Inc&gt; &amp; Co" in view["blocks"][0]["text"]["text"]
    filled = {"state": {"values": {"until": {"until": {"type": "datepicker", "selected_date": "2026-12-31"}},
                                   "reason": {"reason": {"type": "plain_text_input", "value": "  "}}}}}
    assert submitted(filled, "until") == "2026-12-31" and submitted(filled, "reason") is None


def test_long_text_is_cut_to_slack_limits():
    message = text_message("*head*", code="x" * 80 + "\n" + ("line " * 30 + "\n") * 2000)
    assert len(message["blocks"]) <= MAX_BLOCKS
    assert all(len(b["text"]["text"]) <= MAX_SECTION for b in message["blocks"] if b["type"] == "section")
    assert "cut here" in message["blocks"][-1]["elements"][0]["text"]


def test_an_acknowledged_alert_sends_no_reminders_until_its_status_changes():
    t = Timeline(covenant(remind_every=timedelta(days=7)))
    t.at(0, "breach")
    t.state = replace(t.state, acknowledged_status="breach")
    assert [t.kinds(day, "breach") for day in (7, 14, 21)] == [[], [], []]
    # acknowledged as a warning but now a breach: reminders are due again
    _, events = advance(replace(t.state, acknowledged_status="warning"), result("breach", 28), t.cov,
                            clock(28), None)
    assert [e.kind for e in events] == ["reminder"]
    # a cure forgets the acknowledgement
    t.kinds(29, "ok")
    assert t.state.acknowledged_status is None
