"""``POST /api/v1/chat/feedback``: like/dislike on a recommended product or on an answer.

Product feedback is written synchronously (not buffered like chat logs): a dislike must remove
the product from the very next recommendation, and a like must boost it.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends

from finray.auth import Principal
from finray.chatlog import feedback_record
from finray.users.db import fetch_user
from serve_apps.api_models import ErrorBody, FeedbackRequest, FeedbackResponse
from serve_apps.deps import ServicesDep
from serve_apps.errors import NotFound
from serve_apps.security import ensure_self, require_user

router = APIRouter(tags=["feedback"])


@router.post(
    "/chat/feedback",
    response_model=FeedbackResponse,
    status_code=201,
    responses={403: {"model": ErrorBody, "description": "user_id is not the signed-in user's"},
               404: {"model": ErrorBody, "description": "unknown user or product"}},
    summary="Like or dislike a product or an answer",
)
def post_feedback(
    body: FeedbackRequest, services: ServicesDep, principal: Principal = Depends(require_user),
) -> FeedbackResponse:
    # A sync route: FastAPI runs it in the threadpool, so the blocking store calls are fine here.
    ensure_self(principal, body.user_id)  # 403: a customer rates only for themselves
    if fetch_user(services.user_db, body.user_id) is None:
        raise NotFound(f"user {body.user_id} does not exist")
    if body.target == "product" and not services.store.get_products([body.target_id]):
        raise NotFound(f"product {body.target_id} is not in the catalogue")
    fb = feedback_record(
        user_id=body.user_id, target=body.target, target_id=body.target_id, rating=body.rating, comment=body.comment
    )
    services.store.add_feedback(fb)
    if services.metrics is not None:
        services.metrics.feedback.inc(tags={"target": body.target, "rating": body.rating})
    return FeedbackResponse(feedback_id=fb.feedback_id, stored=True, created_at=fb.created_at)
