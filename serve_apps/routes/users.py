"""``POST /api/v1/users/{user_id}/vectorize``: rebuild one user's persona and vector now.

The nightly ``embed_users`` job does this for everyone whose persona changed; this endpoint is
for one customer whose profile just changed upstream. Same persona text, same embedder (through
the QueryEmbedder deployment's passage embedding), same store record as the job writes.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from finray.chatlog import utc_now
from finray.stores.base import IndexInfo, UserVector
from finray.users.db import fetch_user
from finray.users.persona import persona_hash, persona_text
from serve_apps.api_models import ErrorBody, VectorizeResponse
from serve_apps.deps import ServicesDep, UserIdPath
from serve_apps.errors import NotFound

router = APIRouter(tags=["users"])


@router.post(
    "/users/{user_id}/vectorize",
    response_model=VectorizeResponse,
    responses={404: {"model": ErrorBody, "description": "no such user"},
               409: {"model": ErrorBody, "description": "user vectors were built by another embedder"}},
    summary="Re-embed one user's persona now",
)
async def vectorize(user_id: UserIdPath, services: ServicesDep) -> VectorizeResponse:
    user = await run_in_threadpool(fetch_user, services.user_db, user_id)
    if user is None:
        raise NotFound(f"user {user_id} does not exist")
    text = persona_text(user)
    vector: list[float] = await services.handle("embedder").embed_passage.remote(text)
    previous = await run_in_threadpool(services.store.get_user_vector, user_id)
    record = UserVector(
        user_id=user_id, persona=text, persona_hash=persona_hash(text), vector=vector,
        embedder=services.embedder_name, updated_at=utc_now(),
    )
    info = IndexInfo(embedder=services.embedder_name, dim=len(vector))
    await run_in_threadpool(services.store.upsert_user_vectors, [record], info)
    return VectorizeResponse(
        user_id=user_id, persona=text, embedder=services.embedder_name, dim=len(vector),
        changed=previous is None or previous.persona_hash != record.persona_hash,
    )
