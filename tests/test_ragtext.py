"""rag_text: the deterministic Korean description that is embedded and keyword-indexed."""

from __future__ import annotations

from datetime import date

import pytest

from finray.products.finlife import parse_finlife
from finray.products.model import Product
from finray.products.ragtext import MAX_CHARS, render_rag_text
from finray.products.snapshot import load_snapshot


@pytest.fixture(scope="module")
def products() -> dict[str, Product]:
    return {p.product_id: p for r in load_snapshot(date(2026, 11, 22)).values() for p in r.products}


def test_deposit_text_has_provider_name_rates_and_conditions(products) -> None:
    text = products["deposit:0010001:WR0001B"].rag_text
    assert text.startswith("우리은행 WON플러스예금 — 정기예금 (은행).")
    assert "12개월 단리 기본 3.20% / 최고 3.20%" in text
    assert "1개월 단리 기본 2.70% / 최고 2.70%" in text
    assert "우대조건: 해당사항 없음." in text
    assert "가입방법: 인터넷, 스마트폰, 전화(텔레뱅킹)." in text
    assert "가입대상: 실명의 개인 (제한없음)." in text
    assert "최고한도" not in text  # max_limit is null: nothing is made up


def test_saving_text_lists_reserve_types_and_preferential_conditions(products) -> None:
    text = products["saving:0010001:WR0001F"].rag_text
    assert text.startswith("우리은행 우리SUPER주거래적금 — 적금 (은행).")
    assert "12개월 자유적립식 단리 기본 2.45% / 최고 3.85%" in text
    assert "우대조건: 1.우리은행 입출식 계좌" in text and "급여/연금 이체:연 0.7%p" in text
    assert "\n" not in text


def test_fund_text_says_the_risk_grade_in_words(products) -> None:
    text = products["fund:KF04008455"].rag_text
    assert text.startswith("KCGI자산운용(구 메리츠) KCGI 차이나 증권투자신탁(주식) Ce적 — 펀드 (주식형).")
    assert "위험등급: 2등급 높은위험." in text
    assert "총보수: 연 1.51%." in text
    assert "수익률: 1개월 7.31% / 3개월 14.30% / 6개월 14.56% / 12개월 46.52%." in text
    assert "투자지역: 중국." in text and "특징: 범중국 성장기업에 선별투자" in text
    riskiest = next(p for p in products.values() if p.risk_grade == 1)
    assert "위험등급: 1등급 매우높은위험." in riskiest.rag_text
    safest = next(p for p in products.values() if p.risk_grade == 6)
    assert "위험등급: 6등급 매우낮은위험." in safest.rag_text


def test_annuity_text(products) -> None:
    insurance = products["annuity:0010628:2920"].rag_text
    assert "종류: 연금저축보험(손해), 금리연동형." in insurance
    assert "공시이율: 1.60%." in insurance
    assert "최저보증이율: 경과기간 5년이하:1.25%" in insurance
    assert "과거 수익률: 전년도 1.60% / 전전년도 1.65%." in insurance
    fund = products["annuity:0011317:K55232C99568"].rag_text
    assert "공시이율" not in fund and "최저보증이율" not in fund  # the feed has none for funds
    assert "과거 수익률: 전년도 73.65% / 전전년도 0.00%." in fund


def test_credit_loan_text(products) -> None:
    text = products["credit_loan:0010001:CR0001A"].rag_text
    assert text.startswith("우리은행 개인신용대출 우대고객 — 개인신용대출 (일반신용대출).")
    assert "대출 유형: 일반신용대출." in text
    assert "금리 범위: 5.33% ~ 10.01%." in text  # 평균 excluded from the range
    assert "900점 초과 5.33%" in text and "평균금리 5.80%" in text
    assert "301~400점" not in text  # not offered (0.0 in the feed)
    assert "신용평가사: KCB." in text


def test_mortgage_text() -> None:
    # SYNTHETIC parser fixture (FSS mortgage layout, made-up values), not product data.
    base = {"fin_co_no": "9999002", "fin_prdt_cd": "M1", "kor_co_nm": "테스트은행", "fin_prdt_nm": "테스트 주담대",
            "loan_lmt": "LTV 70% 이내", "erly_rpay_fee": "3년 이내 1.2%", "dly_rate": "약정금리+3%"}
    opt = {"fin_co_no": "9999002", "fin_prdt_cd": "M1", "mrtg_type_nm": "아파트", "rpay_type_nm": "분할상환방식",
           "lend_rate_type_nm": "고정금리", "lend_rate_min": 3.41, "lend_rate_max": 5.62}
    (p,) = parse_finlife("mortgageLoanProductsSearch", [base], [opt], top_fin_grp_no="020000").products
    text = p.rag_text
    assert text.startswith("테스트은행 테스트 주담대 — 주택담보대출 (은행).")
    assert "금리 범위: 3.41% ~ 5.62%." in text
    assert "아파트 · 분할상환방식 · 고정금리 3.41% ~ 5.62%" in text
    assert "대출한도: LTV 70% 이내." in text and "중도상환수수료: 3년 이내 1.2%." in text


def test_deterministic_and_bounded(products) -> None:
    for p in products.values():
        text = p.rag_text
        assert text == render_rag_text(p) == Product.model_validate(p.model_dump()).rag_text
        assert len(text) <= MAX_CHARS
        assert p.provider in text and p.name in text


def test_long_free_text_is_trimmed_but_rates_stay() -> None:
    # SYNTHETIC parser fixture with an absurdly long 우대조건.
    base = {"fin_co_no": "9999001", "fin_prdt_cd": "L", "kor_co_nm": "테스트은행", "fin_prdt_nm": "긴설명예금",
            "spcl_cnd": "우대 " * 3000, "etc_note": "비고 " * 3000, "mtrt_int": "만기후 " * 3000,
            "join_way": "인터넷", "join_member": "개인", "join_deny": "2", "max_limit": 100_000_000}
    opts = [{"fin_co_no": "9999001", "fin_prdt_cd": "L", "intr_rate_type_nm": "복리", "save_trm": t,
             "intr_rate": 2.0, "intr_rate2": 3.15} for t in ("6", "12", "24", "36")]
    (p,) = parse_finlife("depositProductsSearch", [base], opts, top_fin_grp_no=None).products
    text = p.rag_text
    assert len(text) <= MAX_CHARS
    assert "36개월 복리 기본 2.00% / 최고 3.15%" in text
    assert "우대조건: 우대 우대" in text and "…" in text
    assert "가입대상: 개인 (서민전용)." in text and "최고한도: 100,000,000원." in text


def test_rates_change_the_text() -> None:
    def make(rate: float) -> str:
        base = {"fin_co_no": "1", "fin_prdt_cd": "R", "kor_co_nm": "은행", "fin_prdt_nm": "예금"}
        opt = {"fin_co_no": "1", "fin_prdt_cd": "R", "save_trm": "12", "intr_rate": rate}
        return parse_finlife("depositProductsSearch", [base], [opt], top_fin_grp_no=None).products[0].rag_text

    assert make(2.5) != make(2.6) and "기본 2.50%" in make(2.5)
