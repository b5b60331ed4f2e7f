"""Both embedders honour one contract: roles, shape, unit norm, batching, clear errors."""

from __future__ import annotations

import os

import numpy as np
import pytest

from finray.config import load_settings
from finray.embeddings.base import EmbedderError
from finray.embeddings.e5 import E5_DIM, E5Embedder
from finray.embeddings.factory import build_embedder, embedder_identity
from finray.embeddings.gemini import GeminiEmbedder
from tests.fakes.gemini import VALID_KEY, fake_gemini_server, fake_vector

TEXTS = ["KB국민은행 KB Star 정기예금 12개월 연 2.80%", "청년도약계좌 적금 우대금리", "해외주식형 펀드 1등급"]


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    return E5Embedder()


def test_e5_shapes_norms_and_roles(e5: E5Embedder) -> None:
    p = e5.embed_passages(TEXTS)
    q = e5.embed_queries(TEXTS)
    assert p.shape == (3, E5_DIM) and p.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-4)
    # query: and passage: prefixes give different vectors for the same text
    assert not np.allclose(p, q)
    assert e5.embed_query(TEXTS[0]).shape == (E5_DIM,)


def test_e5_batches_equal_single_calls(e5: E5Embedder) -> None:
    small = E5Embedder(max_batch=2)
    np.testing.assert_allclose(small.embed_passages(TEXTS), e5.embed_passages(TEXTS), atol=1e-5)


def test_e5_semantic_ranking(e5: E5Embedder) -> None:
    docs = e5.embed_passages(["주택담보대출 변동금리 상품", "정기예금 12개월 금리", "주식형 펀드 해외 성장주"])
    q = e5.embed_query("집 살 때 받는 대출")
    assert int(np.argmax(docs @ q)) == 0


def test_empty_and_bad_input(e5: E5Embedder) -> None:
    assert e5.embed_passages([]).shape == (0, E5_DIM)
    with pytest.raises(EmbedderError, match="positions \\[1\\]"):
        e5.embed_passages(["ok", "  "])


def test_gemini_through_loopback_api() -> None:
    with fake_gemini_server() as server:
        emb = GeminiEmbedder(api_key=VALID_KEY, dim=768, base_url=server.url, batch_size=2)
        p = emb.embed_passages(TEXTS)
        q = emb.embed_queries(TEXTS[:1])
        sent = [r for r in server.requests if r["path"].endswith(":batchEmbedContents")]
    assert emb.name == "gemini:gemini-embedding-001" and emb.dim == 768
    assert p.shape == (3, 768)
    np.testing.assert_allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-5)
    expected = np.asarray(fake_vector(TEXTS[2], "RETRIEVAL_DOCUMENT", 768))
    np.testing.assert_allclose(p[2], expected / np.linalg.norm(expected), atol=1e-5)
    expected_q = np.asarray(fake_vector(TEXTS[0], "RETRIEVAL_QUERY", 768))
    np.testing.assert_allclose(q[0], expected_q / np.linalg.norm(expected_q), atol=1e-5)
    # batch size 2 -> 3 passage texts take two HTTP calls, each request carries task + dimension
    assert len(sent) == 3
    first = sent[0]["body"]["requests"][0]
    assert first["taskType"] == "RETRIEVAL_DOCUMENT" and first["outputDimensionality"] == 768


def test_gemini_errors_are_clear() -> None:
    with fake_gemini_server() as server:
        bad_key = GeminiEmbedder(api_key="wrong", base_url=server.url)
        with pytest.raises(EmbedderError, match="gemini:.*API key not valid"):
            bad_key.embed_passages(["x"])
        emb = GeminiEmbedder(api_key=VALID_KEY, base_url=server.url)
        with pytest.raises(EmbedderError, match="embedding request failed"):
            emb.embed_passages(["FAIL_ME"])


def test_factory_and_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    s = load_settings()
    assert embedder_identity(s) == ("e5:multilingual-e5-small-q4", 384)
    monkeypatch.setenv("FINRAY_EMBEDDER", "gemini")
    monkeypatch.setenv("GOOGLE_API_KEY", VALID_KEY)
    monkeypatch.setenv("GEMINI_EMBED_DIM", "256")
    s = load_settings()
    assert embedder_identity(s) == ("gemini:gemini-embedding-001", 256)
    emb = build_embedder(s)
    assert isinstance(emb, GeminiEmbedder) and emb.dim == 256


@pytest.mark.skipif(
    not (os.environ.get("GOOGLE_API_KEY") and os.environ.get("FINRAY_TEST_GEMINI") == "1"),
    reason="real Gemini contract test: set GOOGLE_API_KEY and FINRAY_TEST_GEMINI=1",
)
def test_gemini_real_service_contract() -> None:
    emb = GeminiEmbedder(api_key=os.environ["GOOGLE_API_KEY"], dim=768)
    p = emb.embed_passages(["주택담보대출 변동금리", "정기예금 12개월"])
    q = emb.embed_query("집 살 때 대출")
    assert p.shape == (2, 768) and int(np.argmax(p @ q)) == 0
