"""Socket Mode: covbot opens a websocket to Slack (``SLACK_APP_TOKEN``, xapp-…), no inbound port.

slack-sdk's built-in Socket Mode client (no extra dependency) receives ``slash_commands`` and
``interactive`` envelopes; each is acknowledged with the handler's immediate answer as the
acknowledgement's payload (the same answer request URL mode sends as the HTTP body). One
connection per instance; Slack spreads the envelopes over the connections.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from bot.errors import DeliveryError
from bot.slackapp.handler import SlackApp
from bot.slackapp.requests import BadRequest, from_command, from_interaction

log = logging.getLogger("covbot.slack")
# the client's DEBUG/trace output may carry payloads: never below INFO
_sdk_log = logging.getLogger("covbot.slack.socket_mode")
_sdk_log.setLevel(max(_sdk_log.level, logging.INFO))


class SocketListener:
    def __init__(self, app: SlackApp, app_token: str, base_url: str):
        self.app = app
        self.client = SocketModeClient(app_token=app_token, web_client=WebClient(base_url=base_url, timeout=10),
                                       logger=_sdk_log, auto_reconnect_enabled=True)
        self.client.socket_mode_request_listeners.append(self._on_request)

    def _on_request(self, client: BaseSocketModeClient, req: SocketModeRequest) -> None:
        answer = None
        try:
            if req.type == "slash_commands":
                answer = self.app.handle(from_command(req.payload))
            elif req.type == "interactive":
                answer = self.app.handle(from_interaction(req.payload))
        except BadRequest as exc:
            log.warning("ignored a Socket Mode %s envelope: %s", req.type, exc)
        finally:  # every envelope is acknowledged, with the immediate answer when there is one
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id, payload=answer))

    def start(self) -> "SocketListener":
        try:
            self.client.connect()
        except SlackApiError as exc:
            self.client.close()
            raise DeliveryError(f"Socket Mode: Slack refused apps.connections.open "
                                f"({exc.response.get('error', 'failed')}); check SLACK_APP_TOKEN.") from None
        except (SlackClientError, OSError) as exc:
            self.client.close()
            raise DeliveryError(f"Socket Mode: cannot connect to Slack ({type(exc).__name__}).") from None
        log.info("connected to Slack in Socket Mode")
        return self

    def stop(self) -> None:
        self.client.close()
