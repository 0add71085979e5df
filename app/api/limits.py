"""What every request passes before a handler: the body size limit, the refusal of NUL
characters, and HEAD answered as GET without its body."""

from __future__ import annotations

import json
import re
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.api.errors import PROBLEM_CODES, PROBLEM_JSON, ContentTooLarge


class BodySizeLimit:
    """413 problem for a body over ``max_bytes``: from Content-Length when it is given,
    otherwise by counting the chunks as they arrive (chunked uploads)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, send)
            return
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise ContentTooLarge(f"the request body exceeds {self.max_bytes} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except ContentTooLarge:
            if not started:
                await self._refuse(scope, send)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        await _problem(
            send,
            scope,
            413,
            "Content Too Large",
            f"the request body exceeds {self.max_bytes} bytes",
        )


async def _problem(send: Send, scope: Scope, status: int, title: str, detail: str) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": title,
            "status": status,
            "code": PROBLEM_CODES.get(status, "error"),
            "detail": detail,
            "instance": scope["path"],
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# A JSON "\u0000" escape that is not itself escaped (preceded by an even number of
# backslashes): outside a string it is no valid JSON anyway.
_JSON_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


class RejectNul:
    """400 problem for a NUL character in the path, the query string or the body.

    PostgreSQL text cannot hold NUL: let through, it fails in the driver, as a 500, on
    whichever route passes the string to the database. Refused here once for every route.
    The body, JSON, is buffered to be scanned; BodySizeLimit (outside) bounds it.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_path = scope.get("raw_path") or scope["path"].encode()
        if b"\x00" in scope["path"].encode() or b"\x00" in unquote_to_bytes(raw_path):
            await _nul(send, scope, "the path")
            return
        if b"\x00" in unquote_to_bytes(scope.get("query_string", b"").replace(b"+", b" ")):
            await _nul(send, scope, "the query string")
            return
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        messages, chunks = [], []
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if b"\x00" in body or _JSON_NUL.search(body):
            await _nul(send, scope, "the body")
            return
        replay = iter(messages)

        async def buffered() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, buffered, send)


async def _nul(send: Send, scope: Scope, where: str) -> None:
    await _problem(
        send, scope, 400, "Bad Request", f"{where} holds a NUL character (%00 or \\u0000)"
    )


class HeadAsGet:
    """HEAD on a GET route: the GET answer's status and headers, without its body
    (RFC 9110 §9.3.2). FastAPI routes only answer the methods they declare."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def headers_only(message: Message) -> None:
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, headers_only)
