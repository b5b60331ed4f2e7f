"""PII and secret redaction for everything the service stores or logs.

Customers type personal data into a financial chat ("제 계좌 110-123-456789로 …", "010-1234-5678로
연락 주세요"), and exceptions quote whatever they were given. Such text must be masked *before* it
reaches a chat log, an application log line or an alert, because those outlive the request and
are read by people who have no business seeing it.

What is masked (each replaced by a typed placeholder without digits, so later passes and readers
can tell what was there but not what it was):

* 이메일 — ``name@example.com``.
* 주민등록번호 / 외국인등록번호 — ``YYMMDD-GNNNNNN`` with a valid month/day and a gender digit
  1–8, with or without the hyphen (the checksum is not required: numbers issued since Oct 2020
  no longer carry one).
* 카드번호 — 13–19 digits, plain or grouped by spaces/hyphens into groups of ≥ 4, that pass the
  Luhn check.
* 전화번호 — mobile numbers: ``010-1234-5678`` / ``01012345678`` / ``010.1234.5678`` /
  ``+82 10-1234-5678`` / ``+821012345678`` (010/011/016/017/018/019). Landlines (``02-…``,
  ``043-256-9114``) and representative numbers (``1588-1234``) are kept: the catalogue quotes
  banks' branch numbers, and a landline is far more often a business than a person.
* 계좌번호 — hyphen-grouped digit runs of 11–16 digits in 3–4 groups that stand alone and are not
  shaped like a landline (the
  layouts Korean banks print: 3-3-6, 6-2-6, 4-3-6, 3-6-5, 3-4-4-2, 4-2-7 …), and bare 10–14 digit
  runs or grouped runs right after a word like 계좌/입금/송금/이체/account. A grouped run glued
  to a word (``통안02800-2610-02``, a bond in a fund description) is not an account.

What must survive (tested against the whole bundled catalogue's ``rag_text``): rates (``3.20%``),
amounts (``1,000,000원``, ``1만원``), dates (``2026-11-22``), terms (``12개월``), fund codes
(``KF04008455``), bond names (``통안02800-2610-02``), branch phone numbers and disclosure months — none of them has the shape of the patterns above.

:func:`scrub_secrets` removes what must never leave the process at all: bearer tokens, JWTs,
refresh tokens, ``key=…``-style credentials, URL passwords, Google API keys and Slack webhook
URLs. :func:`redact` applies both; :class:`RedactingFilter` applies it to log records.
"""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable

RRN = "[주민등록번호]"
PHONE = "[전화번호]"
CARD = "[카드번호]"
ACCOUNT = "[계좌번호]"
EMAIL = "[이메일]"
REDACTED = "[REDACTED]"

_EMAIL_RE = re.compile(
    r"(?<![\w.+%-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}"
)
# YYMMDD, optional hyphen (spaces tolerated), gender/century digit 1–8, six more digits.
_RRN_RE = re.compile(
    r"(?<![\d-])\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])[ \t]*[-–]?[ \t]*[1-8]\d{6}(?![\d-])"
)
# Candidate card numbers: 13–19 digits, optionally separated by single spaces or hyphens.
_CARD_RE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
_MOBILE_RE = re.compile(
    r"(?<![\d+])(?:\+82[-.\s]?(?:\(0\))?[-.\s]?1[016789]|01[016789])[-.\s]?\d{3,4}[-.\s]?\d{4}(?!\d)"
)
# Not glued to a word: "통안02800-2610-02" is a bond's name in a fund description, not an account.
_ACCOUNT_GROUPED_RE = re.compile(r"(?<![\w-])\d{2,7}(?:-\d{2,7}){2,3}(?![\w-])")
_ACCOUNT_CONTEXT_RE = re.compile(
    r"(?i)((?:계좌|입금|송금|이체|account|acct)[^\d\n]{0,12}?)(\d{10,14}|\d{2,7}(?:-\d{2,7}){2,3})(?![\d-])"
)

_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"https://hooks\.slack\.com/[A-Za-z0-9/_-]+"), "[SLACK_WEBHOOK]"),
    (re.compile(r"/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"), "/services/[SLACK_WEBHOOK]"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-._~+/]+=*"), r"\1 " + REDACTED),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"), "[JWT]"),
    (re.compile(r"\bfrt_[A-Za-z0-9_-]{16,}"), "[REFRESH_TOKEN]"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), "[GOOGLE_API_KEY]"),
    (re.compile(r"\b(xox[abpors]-)[A-Za-z0-9-]{8,}"), r"\1" + REDACTED),
    # scheme://user:password@host → scheme://[REDACTED]@host
    (re.compile(r"([a-z][a-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@"), r"\1" + REDACTED + "@"),
    # key=value / "key": "value" credentials (query strings, headers, reprs, JSON)
    (
        re.compile(
            r"(?i)([\"']?\b(?:api[_-]?key|apikey|x-goog-api-key|secret|client_secret|token|"
            r"access_token|refresh_token|id_token|password|passwd|pwd|authorization|crtfc_key|"
            r"servicekey|auth_jwt_secret)[\"']?\s*[=:]\s*[\"']?)[^\s&\"',;)}]+"
        ),
        r"\1" + REDACTED,
    ),
    # OAuth authorization codes in callback URLs
    (re.compile(r"([?&](?:code|state)=)[^&\s\"']+"), r"\1" + REDACTED),
)


def luhn_ok(digits: str) -> bool:
    """The Luhn (mod 10) check every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    groups = re.split(r"[ -]", text)
    grouped_like_a_card = len(groups) == 1 or all(len(g) >= 4 for g in groups)
    if 13 <= len(digits) <= 19 and grouped_like_a_card and len(set(digits)) > 1 and luhn_ok(digits):
        return CARD
    return text


# Area-code-shaped groups (02-…, 043-256-9114, 070-…) are landlines, printed in product texts.
_LANDLINE_SHAPE_RE = re.compile(r"^0(?:2|[3-6][1-5]|70|50[2-8])-\d{3,4}-\d{4}$")


def _account(match: re.Match[str]) -> str:
    text = match.group(0)
    n = sum(ch.isdigit() for ch in text)
    if _LANDLINE_SHAPE_RE.match(text):
        return text
    return ACCOUNT if 11 <= n <= 16 else text


def _account_in_context(match: re.Match[str]) -> str:
    number = match.group(2)
    if _MOBILE_RE.fullmatch(number):  # "입금 후 010-1234-5678로 연락": a phone, masked as such later
        return match.group(0)
    return match.group(1) + ACCOUNT


def redact_pii(text: str) -> str:
    """``text`` with e-mail, 주민등록번호, card, phone and account numbers masked."""
    if not text:
        return text
    out = _EMAIL_RE.sub(EMAIL, text)
    # After 계좌/입금/… a number is an account even if it could also read as a 주민번호.
    out = _ACCOUNT_CONTEXT_RE.sub(_account_in_context, out)
    out = _RRN_RE.sub(RRN, out)
    out = _CARD_RE.sub(_card, out)
    out = _MOBILE_RE.sub(PHONE, out)
    out = _ACCOUNT_GROUPED_RE.sub(_account, out)
    return out


def scrub_secrets(text: str, extra_secrets: Iterable[str] = ()) -> str:
    """``text`` without tokens, keys and credentials; ``extra_secrets`` are exact values to hide.

    Pass the configured secret values (signing key, client secrets, API keys) as
    ``extra_secrets`` where they are known: patterns catch the usual shapes, exact values catch
    the rest.
    """
    if not text:
        return text
    out = text
    for secret in sorted((s for s in extra_secrets if s and len(s) >= 6), key=len, reverse=True):
        out = out.replace(secret, REDACTED)
    for pattern, repl in _SECRET_PATTERNS:
        out = pattern.sub(repl, out)
    return out


def redact(text: str, extra_secrets: Iterable[str] = ()) -> str:
    """Secrets first (a token may contain digit runs that look like a phone number), then PII."""
    return redact_pii(scrub_secrets(text, extra_secrets))


def redact_chat_text(text: str) -> str:
    """What a chat question/answer looks like when stored: PII and secrets masked."""
    return redact(text)


class RedactingFilter(logging.Filter):
    """A ``logging.Filter`` that masks PII and secrets in each record's message and traceback.

    Attach it to *handlers* (filters on a logger do not see records propagated from child
    loggers); :func:`install_log_redaction` does that. The formatted message replaces
    ``msg``/``args`` so every formatter downstream sees only the redacted text; a traceback is
    formatted once, redacted and cached in ``exc_text`` (which ``logging.Formatter`` reuses).
    """

    def __init__(self, extra_secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._extra = tuple(s for s in extra_secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_finray_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken format string must not lose the record
            message = str(record.msg)
        clean = redact(message, self._extra)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self._extra)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._extra)
        record._finray_redacted = True  # several handlers share one record: redact once
        return True


def install_log_redaction(
    logger_names: Iterable[str] = ("", "finray", "ray.serve", "ray.data", "uvicorn", "uvicorn.error"),
    extra_secrets: Iterable[str] = (),
) -> RedactingFilter:
    """Attach one :class:`RedactingFilter` to every handler of the named loggers (idempotent).

    Handlers added *after* this call are not covered; call it once logging is configured (Ray
    Serve configures its replica loggers before the deployment's constructor runs).
    """
    filt = RedactingFilter(extra_secrets)
    for name in logger_names:
        lg = logging.getLogger(name)
        targets: list[logging.Filterer] = [lg, *lg.handlers]
        for target in targets:
            if not any(isinstance(f, RedactingFilter) for f in target.filters):
                target.addFilter(filt)
    return filt
