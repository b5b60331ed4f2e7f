"""What the ingress does with every AI answer: log it, count it, shape it for the client."""

from __future__ import annotations

from collections.abc import Sequence

from finray.agent.service import AdviceResult
from finray.chatlog import answer_log
from finray.products.model import ProductType
from finray.retrieval.rerank import Excluded
from serve_apps.api_models import RecommendedProduct
from serve_apps.deps import Services


def record_answer(
    services: Services, *, log_id: str, kind: str, question: str, result: AdviceResult, latency_ms: float,
    request_id: str, extra: dict | None = None,
) -> None:
    """Queue the chat log (written in the background) and update the answer metrics."""
    services.log_writer.submit(
        answer_log(
            log_id=log_id, user_id=result.user_id, kind=kind, question=question, answer=result.answer,  # type: ignore[arg-type]
            product_ids=[c.product_id for c in result.cited], generator=result.generator,
            latency_ms=latency_ms,
            meta={
                "request_id": request_id,
                "verified": result.verified,
                "excluded": [e.product_id for e in result.excluded],
                "fallback_reason": result.fallback_reason,
                "timings_ms": result.timings_ms,
                "intent": result.intent.summary(),
                "notices": result.notices,
                **(extra or {}),
            },
        )
    )
    m = services.metrics
    if m is None:
        return
    m.answers.inc(tags={"kind": kind, "generator": result.generator})
    if "→offline" in result.generator:
        reason = "model_error" if (result.fallback_reason or "").startswith("모델 오류") else "verification"
        m.fallbacks.inc(tags={"kind": kind, "reason": reason})
    for c in result.cited:
        m.recommended.inc(tags={"product_type": c.product_type.value})
    count_excluded(services, result.excluded)


def count_excluded(services: Services, excluded: Sequence[Excluded]) -> None:
    if services.metrics is not None:
        for e in excluded:
            services.metrics.excluded.inc(tags={"reason": e.kind})


def recommended_items(result: AdviceResult) -> list[RecommendedProduct]:
    items = []
    for c in result.cited:
        brief = result.briefs.get(c.product_id)
        ptype = ProductType(c.product_type)
        items.append(
            RecommendedProduct(
                product_id=c.product_id, name=c.name, provider=c.provider, product_type=ptype,
                product_type_ko=ptype.korean, key_numbers=c.key_numbers,
                risk_grade=brief.risk_grade if brief else None, terms=brief.terms if brief else [],
                disclosure_month=brief.disclosure_month if brief else None,
                reason=c.reason, suitability_note=c.suitability_note, score=round(c.score, 6),
                alternative_note=c.alternative_note,
            )
        )
    return items
