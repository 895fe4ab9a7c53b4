"""Acting from Slack: acknowledge, waive and explain alerts, and a slash command, without a shell.

One set of handlers (``handler.SlackApp``) serves both ways Slack can reach covbot:

    Slack ──POST /slack/events──▶ http.py (waitress, SignatureVerifier) ─┐
    Slack ◀──websocket (xapp-…)── socket.py (slack_sdk Socket Mode)     ─┴▶ handler.SlackApp
                                                                            │ answers at once (≤ 3 s)
                                        background workers ◀────────────────┘ slower work:
                                        acts.py (ack, waive) · reads.py (status, explain …)
                                        answers via response_url / chat.postEphemeral

``listener.SlackListener`` starts whichever modes are configured; ``covbot run`` and
``covbot slack serve`` use it. See README "Acting from Slack" and DOMAIN.md.
"""
