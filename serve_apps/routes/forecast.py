"""RiskXpert HTTP routes: ``POST /forecast`` (JSON) and ``POST /forecast/stream`` (SSE).

Mounted under ``/api/v1`` (``Mount(forecast.router, API_V1)`` in ``serve_apps/routes/__init__.py``).

**What this router expects from the app** — the Forecaster ``DeploymentHandle`` at
``request.app.state.services``, as either

* ``services.handles["forecaster"]`` (``serve_apps.deps.Services``: pass it to the ingress with
  ``Ingress.bind(..., forecaster=Forecaster.bind())``), or
* ``services.forecaster`` (any object with that attribute, e.g. a test ingress).

If neither is there the routes answer 503, never 500.

Stream events (``text/event-stream``, each ``id:``/``event:``/one ``data:`` JSON line):

1. ``forecast`` — the numbers (:class:`ForecastResponse`), first, before any text;
2. ``summary`` × n — ``{"text"}`` chunks of the verified summary (append them);
3. ``scenario`` × n — ``{"case": "낙관"|"기준"|"비관", "text"}`` chunks, cases in that order;
4. ``done`` — :class:`StreamDone`: ``cached``, model ``version``, ``log_id`` of the stored
   conversation, which generator wrote each stage and whether it was regenerated or replaced.

A failure after the stream started arrives as ``event: error`` (``{"error", "detail"}``). Bad
input is a 422 before any stream starts (indicators from the known set, months 1–24, question
≤ 2,000 characters); no published model is a 503.

**Two cache layers.** The Forecaster owns the answer cache (in-process, or Redis shared by all
replicas; see :mod:`finray.riskxpert.service`). Each ingress replica also keeps a small,
short-lived copy of the answers it has recently sent (:class:`IngressAnswers`, on
``request.app.state.riskxpert_answers``), keyed the same way — including the model version, which
it re-asks the Forecaster for every :data:`VERSION_TTL_S` seconds. A repeated question is then
answered without a DeploymentHandle round trip (the largest part of a cached response's time on
Serve); the chat logs of such repeats reach the Forecaster afterwards, batched, off the response
path. A newly
published version reaches the ingress copy within ``VERSION_TTL_S`` of the Forecaster loading it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response, StreamingResponse

from finray.auth import Principal
from finray.cache import InProcessCache
from finray.chatlog import new_log_id
from finray.riskxpert import ForecastRequest, ForecastResponse, ForecastUnavailable, StreamRequest, UnknownIndicator
from finray.riskxpert.service import answer_key
from serve_apps import sse
from serve_apps.security import ensure_self, require_user

log = logging.getLogger(__name__)

router = APIRouter(tags=["RiskXpert"])
HANDLE_NAME = "forecaster"


def forecaster_handle(request: Request) -> Any:
    """The Forecaster DeploymentHandle from ``request.app.state.services`` (see the module docstring)."""
    services = getattr(request.app.state, "services", None)
    handles = getattr(services, "handles", None)
    handle = handles.get(HANDLE_NAME) if isinstance(handles, dict) else getattr(services, HANDLE_NAME, None)
    if handle is None:
        raise HTTPException(status_code=503, detail="the forecaster deployment is not part of this application")
    return handle


ForecasterDep = Annotated[Any, Depends(forecaster_handle)]

Event = dict[str, Any]
INGRESS_TTL_S = 300.0  # how long an ingress keeps its copy of an answer (the Forecaster's cache keeps it longer)
INGRESS_MAX_ANSWERS = 256
VERSION_TTL_S = 5.0  # how often an ingress re-asks the Forecaster which model version it serves
RECORD_INTERVAL_S = 0.5  # the chat logs of repeats go to the Forecaster at most this often, batched


class IngressAnswers:
    """One ingress replica's copy of recently sent answers, and the model version they belong to.

    An answer is kept already framed as SSE, next to the little its chat log needs (the narrative
    events and which model served each indicator), so a repeat costs no JSON work; the logs of
    repeats are sent to the Forecaster in one call every :data:`RECORD_INTERVAL_S`.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._answers = InProcessCache(INGRESS_TTL_S, INGRESS_MAX_ANSWERS, clock=clock)
        self._clock = clock
        self._version: str | None = None
        self._version_at = -float("inf")
        self._records: list[tuple[dict[str, Any], list[Event], dict[str, Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def version(self, forecaster: Any) -> str:
        now = self._clock()
        if self._version is None or now - self._version_at >= VERSION_TTL_S:
            self._version = await forecaster.version.remote()
            self._version_at = now
        return self._version

    def get(self, key: str) -> tuple[bytes, int, dict[str, Any], list[Event]] | None:
        """``(SSE frames of every event but done, how many, the done data, the log's events)``."""
        raw = self._answers.get(key)
        if raw is None:
            return None
        n = int.from_bytes(raw[:4], "big")
        head = json.loads(raw[4 : 4 + n])
        return raw[4 + n :], head["n"], head["done"], head["log_events"]

    def put(self, request: StreamRequest, events: list[Event]) -> bytes:
        """Keep a complete answer (its last event is ``done``) under its own model version —
        unless the Forecaster did not cache it either (written offline because the model
        failed). Returns the SSE frames of all but ``done``."""
        done = events[-1]["data"]
        body = b"".join(sse.frame(e["event"], e["data"], i) for i, e in enumerate(events[:-1], start=1))
        if done.get("cacheable", True):
            head = json.dumps({"n": len(events) - 1, "done": done, "log_events": _log_events(events)},
                              ensure_ascii=False).encode("utf-8")
            self._answers.set(answer_key(request, done["version"]), len(head).to_bytes(4, "big") + head + body)
        return body

    def record(self, forecaster: Any, payload: dict[str, Any], events: list[Event], done: dict[str, Any]) -> None:
        """Queue the chat log of a repeat; a background task sends the queue in one call."""
        self._records.append((payload, events, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush_later(forecaster))

    async def _flush_later(self, forecaster: Any) -> None:
        await asyncio.sleep(RECORD_INTERVAL_S)
        batch, self._records = self._records, []
        try:
            await forecaster.record_many.remote(batch)
        except Exception as err:  # noqa: BLE001 - a lost chat log must never fail anything
            log.warning("%d forecast chat logs not recorded: %s: %s", len(batch), type(err).__name__, err)


def _log_events(events: list[Event]) -> list[Event]:
    """What a chat log of the answer needs: the narrative, and which model served each indicator."""
    out: list[Event] = []
    for e in events:
        if e["event"] == "forecast":
            models = [{"indicator": i["indicator"], "model": i["model"]} for i in e["data"]["indicators"]]
            out.append({"event": "forecast", "data": {"indicators": models}})
        elif e["event"] in ("summary", "scenario"):
            out.append(e)
    return out


def ingress_answers(request: Request) -> IngressAnswers:
    """This replica's :class:`IngressAnswers` (created on first use, kept on ``app.state``)."""
    answers = getattr(request.app.state, "riskxpert_answers", None)
    if answers is None:
        answers = IngressAnswers()
        request.app.state.riskxpert_answers = answers
    return answers


AnswersDep = Annotated[IngressAnswers, Depends(ingress_answers)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    422: {"description": "invalid request (unknown indicator, months outside 1–24, question too long)"},
    503: {"description": "no published forecaster model yet (run: python -m data_jobs train_forecaster)"},
}


def _http_error(err: UnknownIndicator | ForecastUnavailable) -> HTTPException:
    """Domain errors from the deployment (they arrive as RayTaskError subclasses of their class):
    an indicator the published version lacks is the caller's 422, no published version a 503."""
    cause = getattr(err, "cause", None) or err
    detail = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
    return HTTPException(status_code=422 if isinstance(err, UnknownIndicator) else 503, detail=detail)


@router.post("/forecast", response_model=ForecastResponse, responses=_ERRORS,
             summary="Forecast indicators 1–24 months ahead (median, 80% band, model, backtest skill)")
async def forecast(body: ForecastRequest, forecaster: ForecasterDep) -> Any:
    try:
        return await forecaster.forecast.remote(body.model_dump())
    except (UnknownIndicator, ForecastUnavailable) as err:
        raise _http_error(err) from None


_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "text/event-stream: `forecast`, `summary`…, `scenario`…, `done` (or `error`)",
        "content": {sse.MEDIA_TYPE: {"schema": {"type": "string"}}},
    },
    **_ERRORS,
}


@router.post("/forecast/stream", response_class=StreamingResponse, responses=_STREAM_DOC,
             summary="Forecast + verified summary and 낙관/기준/비관 scenarios (SSE stream)")
async def forecast_stream(
    body: StreamRequest, forecaster: ForecasterDep, answers: AnswersDep,
    principal: Annotated[Principal, Depends(require_user)],
) -> Response:
    started = time.perf_counter()
    # the conversation is stored as the caller's: a body naming another customer is refused
    # (admins may act for anyone), and a body naming no one is the caller's own question
    if body.user_id is not None:
        ensure_self(principal, body.user_id)
    body = body.model_copy(update={"user_id": body.user_id or principal.user_id})
    payload = body.model_dump()
    try:
        # 1. this ingress's own copy: no handle round trip at all
        copy = answers.get(answer_key(body, await answers.version(forecaster)))
        if copy is not None:
            frames, n, done, log_events = copy
            done = {**done, "cached": True, "cache_layer": "ingress", "log_id": new_log_id(),
                    "elapsed_ms": round(1000 * (time.perf_counter() - started), 2)}
            answers.record(forecaster, payload, log_events, done)  # sent later, in a batch
            return _sse_body(frames + sse.frame("done", done, n + 1))
        # 2. the Forecaster's cache: one plain call carrying the whole answer
        cached = await forecaster.replay.remote(payload)
        if cached is not None:
            frames = answers.put(body, cached)
            return _sse_body(frames + sse.frame("done", cached[-1]["data"], len(cached)))
        # 3. computed: streamed stage by stage
        batches = forecaster.options(stream=True).generate.remote(payload)
        first = await batches.__anext__()
    except StopAsyncIteration:
        raise HTTPException(status_code=503, detail="the forecaster ended the stream without an answer") from None
    except (UnknownIndicator, ForecastUnavailable) as err:  # before any byte is sent → a JSON error
        raise _http_error(err) from None
    return StreamingResponse(_frames(first, batches, lambda events: answers.put(body, events)),
                             media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


def _sse_body(body: bytes) -> Response:
    """A complete answer as one response (the same SSE body as a stream, with a Content-Length)."""
    return Response(body, media_type=sse.MEDIA_TYPE, headers=sse.HEADERS)


async def _frames(first: list[Event], batches: Any, on_complete: Callable[[list[Event]], None]) -> AsyncIterator[bytes]:
    seq = 0
    batch = first
    sent: list[Event] = []
    try:
        while True:
            out = []
            for event in batch:
                seq += 1
                out.append(sse.frame(event["event"], event["data"], seq))
            sent += batch
            yield b"".join(out)  # one write per stage
            batch = await batches.__anext__()
    except StopAsyncIteration:
        if sent and sent[-1]["event"] == "done":
            on_complete(sent)
        return
    except Exception as err:  # noqa: BLE001 - the stream has started; the client gets an error event
        cause = getattr(err, "cause", None) or err
        log.exception("forecast stream failed after %d events", seq)
        yield sse.frame("error", {"error": "internal_error", "detail": type(cause).__name__}, seq + 1)
