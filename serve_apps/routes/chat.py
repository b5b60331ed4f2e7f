"""``POST /api/v1/chat/stream``: a question answered as Server-Sent Events.

Events, in order: one ``meta`` (what was retrieved, excluded and who writes the answer), several
``delta`` (answer text to append), one ``done`` (the whole verified answer, the cited products
with key numbers and suitability notes, the ``log_id`` to rate it). A failure after the stream
started arrives as ``event: error`` with ``{"error", "detail", "request_id"}``. When text is sent
relative to verification is explained in :mod:`finray.agent.service`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import StreamingResponse

from finray.advice.presentation import IntentView
from finray.agent.service import AdviceDelta, AdviceMeta, AdviceRequest, AdviceResult
from finray.auth import Principal
from finray.chatlog import new_log_id
from finray.stores.base import ProductFilters
from serve_apps import sse
from serve_apps.answers import record_answer
from serve_apps.api_models import ChatDelta, ChatDone, ChatMeta, ChatRequest, ErrorBody, excluded_item
from serve_apps.deps import RequestIdDep, Services, ServicesDep
from serve_apps.errors import Unavailable, first_line
from serve_apps.observability import log
from serve_apps.security import ensure_self, require_user

router = APIRouter(tags=["chat"])

_STREAM_DOC = {
    200: {
        "description": (
            "text/event-stream: `event: meta` (ChatMeta), `event: delta` (ChatDelta) …, "
            "`event: done` (ChatDone); on a failure mid-stream `event: error` (ErrorBody)"
        ),
        "content": {sse.MEDIA_TYPE: {"schema": {"type": "string"}}},
    },
    403: {"model": ErrorBody, "description": "user_id is not the signed-in user's"},
    404: {"model": ErrorBody, "description": "no such user"},
}


@router.post("/chat/stream", response_class=StreamingResponse, responses=_STREAM_DOC, summary="Ask the advisor (SSE stream)")
async def chat_stream(
    body: ChatRequest, services: ServicesDep, request_id: RequestIdDep, principal: Principal = Depends(require_user),
) -> StreamingResponse:
    started = time.perf_counter()
    ensure_self(principal, body.user_id)  # 403: the answer and its log belong to body.user_id
    request = AdviceRequest(
        user_id=body.user_id,
        question=body.question.strip(),
        filters=ProductFilters(
            product_types=body.product_types or None, term_months=body.term_months, providers=body.provider or None,
        ),
        k=body.k,
        amount_krw=body.amount,
        persona_override=body.persona,
        drop=tuple(body.drop),
    )
    batches = services.handle("advisor").options(stream=True).stream.remote(request)
    try:
        first = await batches.__anext__()  # unknown user etc. raise here → a JSON error, not a stream
    except StopAsyncIteration:
        raise Unavailable("the advisor ended the stream without an answer") from None
    log_id = new_log_id()
    return StreamingResponse(
        _frames(services, request, log_id, request_id, started, first, batches),
        media_type=sse.MEDIA_TYPE,
        headers=sse.HEADERS,
    )


async def _frames(
    services: Services, request: AdviceRequest, log_id: str, request_id: str, started: float,
    first: list[Any], batches: Any,
) -> AsyncIterator[bytes]:
    """SSE frames for each batch of advice events (one write per batch, one event per frame)."""
    seq = 0
    sent_text = False
    generator = "offline"

    def frame(event: str, data: Any) -> bytes:
        nonlocal seq
        seq += 1
        return sse.frame(event, data, seq)

    def frames_of(event: Any) -> bytes:
        nonlocal sent_text, generator
        if isinstance(event, AdviceMeta):
            generator = event.generator
            meta = ChatMeta(
                log_id=log_id, request_id=request_id, candidates=event.candidates, recommended=event.recommended,
                excluded=[excluded_item(e) for e in event.excluded], generator=event.generator,
                intent=IntentView.of(event.intent), notices=event.notices,
            )
            return frame("meta", meta.model_dump(mode="json"))
        if isinstance(event, AdviceDelta):
            if not sent_text and services.metrics is not None:
                services.metrics.first_chunk.observe((time.perf_counter() - started) * 1000, tags={"generator": generator})
            sent_text = True
            return frame("delta", ChatDelta(text=event.text).model_dump(mode="json"))
        if isinstance(event, AdviceResult):
            latency = (time.perf_counter() - started) * 1000
            record_answer(
                services, log_id=log_id, kind="chat", question=request.question or "", result=event,
                latency_ms=latency, request_id=request_id,
                extra={"persona_override": bool(request.persona_override)},
            )
            done = ChatDone(
                log_id=log_id, request_id=request_id, answer=event.answer, cited=event.cited,
                excluded=[excluded_item(e) for e in event.excluded], generator=event.generator,
                verified=event.verified, latency_ms=round(latency, 1), intent=IntentView.of(event.intent),
                notices=event.notices, comparison=event.comparison, computed=event.computed,
            )
            return frame("done", done.model_dump(mode="json"))
        raise TypeError(f"unexpected advice event {type(event).__name__}")

    try:
        batch = first
        while True:
            yield b"".join(frames_of(event) for event in batch)
            batch = await batches.__anext__()
    except StopAsyncIteration:
        return
    except Exception as err:  # noqa: BLE001 - the status line is gone; report in-band
        log.error("chat stream failed after it started: %s", first_line(err))
        yield frame("error", ErrorBody(error="internal_error", detail="the answer stream failed; quote the request_id",
                                       request_id=request_id).model_dump())
