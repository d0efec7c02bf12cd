"""What the server's ASGI middlewares share: passing non-HTTP traffic through, and watching the
status of the response a request got."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class WatchedSend:
    """An ASGI `send` that remembers the status of the response it started (0 until then)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self._send(message)


class HttpMiddleware:
    """A middleware of HTTP requests: `handle` sees each one; lifespan and websocket pass by."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
