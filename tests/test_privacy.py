"""PII and secret redaction: what is masked, what must survive, and the logging filter."""

from __future__ import annotations

import io
import logging

import pytest

from finray.privacy import (
    ACCOUNT,
    CARD,
    EMAIL,
    PHONE,
    RRN,
    RedactingFilter,
    install_log_redaction,
    luhn_ok,
    redact,
    redact_chat_text,
    redact_pii,
    scrub_secrets,
)

# Made-up credentials in the real formats, assembled at run time so the repository never holds a
# literal that secret scanners (and reviewers) would take for a leaked key.
FAKE_GOOGLE_KEY = "AIza" + "SyA1234567890abcdefghijklmnopqrstuv"
FAKE_SLACK_HOOK = "https://hooks.slack.com/services/" + "T0/B0/XYZsecret"


@pytest.mark.parametrize(
    "text,expected",
    [
        # 주민등록번호 / 외국인등록번호
        ("주민번호는 900101-1234567 입니다", f"주민번호는 {RRN} 입니다"),
        ("9001011234567", RRN),
        ("851231 - 2345678", RRN),
        ("외국인 020304-5123456", f"외국인 {RRN}"),
        # phones
        ("010-1234-5678로 연락", f"{PHONE}로 연락"),
        ("01012345678", PHONE),
        ("010.1234.5678", PHONE),
        ("010 1234 5678", PHONE),
        ("011-123-4567", PHONE),
        ("+82 10-1234-5678", PHONE),
        ("+82-10-1234-5678", PHONE),
        ("+821012345678", PHONE),
        ("+82 (0)10 1234 5678", PHONE),
        # cards (Luhn-valid test numbers)
        ("카드 4111 1111 1111 1111 결제", f"카드 {CARD} 결제"),
        ("4111-1111-1111-1111", CARD),
        ("5500000000000004", CARD),
        ("3782-822463-10005", CARD),  # Amex 4-6-5
        ("6011000990139424", CARD),
        # bank accounts
        ("계좌 110-123-456789 로 보내", f"계좌 {ACCOUNT} 로 보내"),
        ("국민 123456-12-123456", f"국민 {ACCOUNT}"),
        ("농협 301-1234-1234-11", f"농협 {ACCOUNT}"),
        ("카카오뱅크 3333-01-1234567", f"카카오뱅크 {ACCOUNT}"),
        ("계좌번호는 110123456789", f"계좌번호는 {ACCOUNT}"),
        ("입금계좌:1002123456789", f"입금계좌:{ACCOUNT}"),
        ("계좌110-123-456789", f"계좌{ACCOUNT}"),
        ("입금 후 010-1234-5678로 연락", f"입금 후 {PHONE}로 연락"),
        # e-mail
        ("메일 hong.gildong+fin@example.co.kr로 보내 주세요", f"메일 {EMAIL}로 보내 주세요"),
        ("a_b@mail-server.io", EMAIL),
    ],
)
def test_pii_is_masked(text, expected):
    assert redact_pii(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "12개월 단리 기본 3.20% / 최고 3.50%",
        "만기일 2026-11-22, 가입일 2025-11-22",
        "최소가입금액: 1,000,000원 이상, 최고 50,000,000원",
        "KF04008455 KB스타 재팬 인덱스 증권 자투자신탁(주식-파생형)-C-E",
        "공시 202607, 기준일 20260630",
        "통안02800-2610-02 편입",
        "문의: 1588-9999, 02-2073-7114, 043-256-9114",
        "수익률 1개월 7.31% 3개월 14.3% 12개월 46.52%",
        "상품코드 10-2026-0001",
        "4111 1111 1111 1112",  # fails Luhn
        "1234567890123",  # 13 digits, not a date, not Luhn-valid
        "991399-1234567",  # month 13: not an RRN
    ],
)
def test_product_style_numbers_survive(text):
    assert redact_pii(text) == text


def test_luhn():
    assert luhn_ok("4111111111111111") and not luhn_ok("4111111111111112")


def test_no_bundled_product_text_is_masked():
    """The whole real catalogue (rates, amounts, dates, fund codes, branch phones) passes through."""
    from finray.products.snapshot import load_snapshot

    products = [p for result in load_snapshot().values() for p in result.products]
    assert len(products) > 1000
    changed = [p.product_id for p in products if redact_pii(p.rag_text) != p.rag_text or redact_pii(p.name) != p.name]
    assert changed == []


@pytest.mark.parametrize(
    "text,leaked",
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJVMDAwMDAwMSJ9.c2lnbmF0dXJl", "c2lnbmF0dXJl"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJVMDAwMDAwMSJ9.c2lnbmF0dXJl", "eyJzdWIi"),
        ("refresh frt_" + "A" * 43, "AAAAAAAA"),
        ("GET /api?crtfc_key=abcdef123456&topFinGrpNo=020000", "abcdef123456"),
        ('{"client_secret": "kakao-s3cr3t", "x": 1}', "kakao-s3cr3t"),
        ("password=hunter2hunter2", "hunter2"),
        ("mongodb+srv://finray:pa55word@cluster0.mongodb.net/db", "pa55word"),
        ("key " + FAKE_GOOGLE_KEY, "AIzaSyA1234567890"),
        ("hook " + FAKE_SLACK_HOOK, "XYZsecret"),
        ("callback?code=AbCdEf123&state=xyz789", "AbCdEf123"),
    ],
)
def test_secrets_are_scrubbed(text, leaked):
    out = scrub_secrets(text)
    assert leaked not in out and "[" in out


def test_exact_secret_values_are_scrubbed():
    assert scrub_secrets("signing with Zq8rTv0pQm", ["Zq8rTv0pQm"]) == "signing with [REDACTED]"


def test_redact_combines_both_and_chat_text_uses_it():
    text = "제 번호 010-9876-5432, 토큰 Bearer abc.def.ghi, 메일 kim@naver.com"
    out = redact_chat_text(text)
    assert "9876" not in out and "abc.def" not in out and "kim@" not in out
    assert out == redact(text)


def _logger_with_buffer(name: str) -> tuple[logging.Logger, io.StringIO, logging.Handler]:
    buf = io.StringIO()
    handler = logging.StreamHandler(buf)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, buf, handler


def test_logging_filter_redacts_messages_args_and_tracebacks():
    logger, buf, handler = _logger_with_buffer("finray.test.privacy")
    handler.addFilter(RedactingFilter(extra_secrets=["sup3r-s3cret-value"]))
    logger.info("user %s called from %s with key %s", "U0000001", "010-1234-5678", "sup3r-s3cret-value")
    try:
        raise ValueError("bad card 4111 1111 1111 1111 for hong@example.com")
    except ValueError:
        logger.exception("payment failed for 900101-1234567")
    out = buf.getvalue()
    assert "U0000001" in out  # pseudonymous ids stay: logs must remain useful
    for leaked in ("1234-5678", "sup3r-s3cret-value", "4111 1111", "hong@example.com", "1234567"):
        assert leaked not in out
    assert PHONE in out and CARD in out and EMAIL in out and RRN in out
    assert "Traceback" in out and "ValueError" in out


def test_install_log_redaction_covers_handlers_and_is_idempotent():
    logger, buf, handler = _logger_with_buffer("finray.test.install")
    install_log_redaction(["finray.test.install"])
    install_log_redaction(["finray.test.install"])
    assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
    logger.warning("call me at 01099998888")
    assert "01099998888" not in buf.getvalue() and PHONE in buf.getvalue()
