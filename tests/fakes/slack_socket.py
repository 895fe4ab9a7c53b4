"""A fake Slack Socket Mode endpoint: a real websocket server on 127.0.0.1 (the ``websockets``
package), handed out by the fake Web API's ``apps.connections.open``.

Like Slack it greets each connection with ``hello``, then sends the envelopes a test gives it
(``send``), and records every message the client sends back (the acknowledgements).
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import ServerConnection, serve


class FakeSocketMode:
    def __init__(self) -> None:
        self._outgoing: queue.Queue[dict[str, Any]] = queue.Queue()
        self.received: queue.Queue[dict[str, Any]] = queue.Queue()
        self.connected = threading.Event()
        self._ids = itertools.count(1)
        self._server = None
        self._thread: threading.Thread | None = None
        self.port: int | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/link/?ticket=fake"

    def start(self) -> "FakeSocketMode":
        self._server = serve(self._session, "127.0.0.1", 0)
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-socket-mode", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)

    def _session(self, ws: ServerConnection) -> None:
        ws.send(json.dumps({"type": "hello", "num_connections": 1, "debug_info": {"host": "fake"},
                            "connection_info": {"app_id": "A0FAKE"}}))
        self.connected.set()
        reader = threading.Thread(target=self._read, args=(ws,), daemon=True)
        reader.start()
        try:
            while reader.is_alive():
                try:
                    envelope = self._outgoing.get(timeout=0.1)
                except queue.Empty:
                    continue
                ws.send(json.dumps(envelope))
        except ConnectionClosed:
            pass

    def _read(self, ws: ServerConnection) -> None:
        try:
            for message in ws:
                self.received.put(json.loads(message))
        except ConnectionClosed:
            pass

    def send(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver an envelope (``slash_commands`` or ``interactive``); returns its envelope id."""
        envelope_id = f"env-{next(self._ids)}"
        self._outgoing.put({"envelope_id": envelope_id, "type": kind, "payload": payload,
                            "accepts_response_payload": True, "retry_attempt": 0, "retry_reason": ""})
        return envelope_id

    def ack_of(self, envelope_id: str, timeout: float = 10) -> dict[str, Any]:
        """The client's acknowledgement of the envelope (other messages are skipped)."""
        while True:
            message = self.received.get(timeout=timeout)
            if message.get("envelope_id") == envelope_id:
                return message
