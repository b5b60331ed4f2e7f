"""적합성 원칙: 투자성향 1–5 × product risk grade 1–6, plus ungraded products.

The ``FIXTURE`` section below is the hand-built catalogue the rerank and agent tests share
(``from tests.test_suitability import ...``): every value is copied from a real row of
``/work/shared/data/finlife/deposit_202607_bank_rag_project.json``,
``saving_202607_bank_rag_project.json``, ``thefp_fixture_creditloan_*.json``,
``thefp_fixture_annuity_products.json`` and ``/work/shared/data/funds/kb_elite_funds_asof_20260630.json``
(fund grades from the Korean label — that file's ``risk_score`` runs the other way; long fund
feature texts are cut to their first sentence or two).
"""

from __future__ import annotations

import pytest

from finray.products.model import JoinDeny, Product, ProductType, RateOption
from finray.retrieval.suitability import (
    NO_GRADED_PRODUCTS,
    RISKIEST_ALLOWED_GRADE,
    allowed_grades_text,
    check,
    max_risk_grade_riskiest,
)

# =============================================================================================
# FIXTURE: hand-built products copied from real catalogue rows (202607 finlife, KB funds 20260630)
# =============================================================================================


def _deposit(code: str, co: str, provider: str, name: str, rows: list[tuple], *, saving: bool = False, **kw) -> Product:
    """rows: (term, 단리/복리, 적립방식 | None, intr_rate, intr_rate2) exactly as in option_list."""
    ptype = ProductType.SAVING if saving else ProductType.DEPOSIT
    return Product(
        product_id=f"{ptype.value}:{co}:{code}",
        product_type=ptype,
        source=f"finlife:{ptype.value}",
        provider=provider,
        provider_code=co,
        product_code=code,
        name=name,
        fin_group="020000",
        rates=tuple(
            RateOption(term_months=t, interest_type=it, reserve_type=rt, base_rate=b, max_rate=m)
            for t, it, rt, b, m in rows
        ),
        join_deny=JoinDeny.NONE,
        disclosure_month="202607",
        **kw,
    )


def _fund(code: str, name: str, manager: str, fund_type: str, grade: int, fee: float, returns: dict, desc: str) -> Product:
    return Product(
        product_id=f"fund:{code}",
        product_type=ProductType.FUND,
        source="funds:kb",
        provider=manager,
        product_code=code,
        name=name,
        category=fund_type,
        risk_grade=grade,
        fee_pct=fee,
        recent_returns=returns,
        description=desc,
        disclosure_month="202606",
    )


WON_PLUS = _deposit(
    "WR0001B", "0010001", "우리은행", "WON플러스예금",
    [(1, "단리", None, 2.7, 2.7), (3, "단리", None, 2.9, 2.9), (6, "단리", None, 3.0, 3.0),
     (12, "단리", None, 3.2, 3.2), (24, "단리", None, 2.5, 2.5), (36, "단리", None, 2.5, 2.5)],
    preferential_conditions="해당사항 없음",
    join_member="실명의 개인",
    description="- 가입기간: 1~36개월\n- 최소가입금액: 1만원 이상\n- 만기일을 일,월 단위로 자유롭게 선택 가능",
)
E_GREEN = _deposit(
    "00320342", "0010002", "한국스탠다드차타드은행", "e-그린세이브예금",
    [(1, "단리", None, 2.2, 2.4), (3, "단리", None, 2.9, 3.1), (6, "단리", None, 3.2, 3.5),
     (12, "단리", None, 3.65, 3.95)],
    preferential_conditions=(
        "1.SC제일은행 최초 거래 신규고객 우대이율 제공(보너스이율0.2%)\n"
        "2.만기일에 아래의 조건을 모두 충족하는 경우보너스이율 제공\n"
        "-6~12개월제(만기일시지급식) 5천만원 이상 가입\n"
        "-만기일 기준 전전월 마지막 영업일에 수익증권(펀드)*을 3천만원 이상 보유 \n"
        "(가입기간: 6개월~1년제/ 보너스이율:0.1% / 만기해약하는 경우에 한해 보너스이율을 적용함)"
    ),
    join_member="개인(개인사업자 포함)",
    max_limit=1_000_000_000,
    description="디지털채널 전용상품 (인터넷, 모바일뱅킹)",
)
MIZ = _deposit(
    "TD11300027000", "0010019", "광주은행", "미즈월복리정기예금",
    [(12, "복리", None, 3.48, 3.68), (24, "복리", None, 3.29, 3.49), (36, "복리", None, 3.29, 3.49)],
    preferential_conditions=(
        "▶ 최고우대금리 0.2% \n ① 요구불평잔 : 0.2% -300만원이상 0.1%, 500만원이상 0.2%\n"
        " ② 신용(체크)카드결제실적 : 0.1% -전월결제금 300만원이상 0.05%, 500만원이상 0.1%"
    ),
    join_member="만18세이상 여성으로 실명의 개인 및 개인사업자",
    max_limit=50_000_000,
    description="1. 가입기간 : 1년이상 3년제\n2. 가입금액 : 5백만원이상 최고 50백만원",
)
JEJU_DREAM = _deposit(  # the feed's name has line breaks in it
    "101272000006", "0010020", "제주은행", "제주Dream\n정기예금\n(개인/만기\n지급식)",
    [(1, "단리", None, 2.0, 2.1), (3, "단리", None, 2.1, 2.2), (6, "단리", None, 2.25, 2.35),
     (12, "단리", None, 2.3, 2.4), (24, "단리", None, 2.2, 2.3), (36, "단리", None, 2.2, 2.3)],
    preferential_conditions=(
        "최고 연 0.1%p(항목별 0.1%p)\n①급여이체\n②적립식예금 잔액 10만원 이상 보유\n"
        "③탑스, 주거래 고객\n④결제계좌(가맹점) 전월 입금액 10만원 이상 \n⑤비과세종합저축 대상 고객\n"
        "⑥다자녀(3인이상 자녀)가정"
    ),
    join_member="제한없음",
    description="가입금액 : 1백만원 이상",
)
KB_STAR = _deposit(
    "010300100335", "0010927", "국민은행", "KB Star 정기예금",
    [(1, "단리", None, 2.05, 2.55), (3, "단리", None, 2.25, 2.85), (6, "단리", None, 2.35, 3.0),
     (12, "단리", None, 2.4, 3.2), (24, "단리", None, 2.4, 2.4), (36, "단리", None, 2.4, 2.4)],
    preferential_conditions="해당무",
    join_member="실명의 개인 또는 개인사업자",
    description="- 가입금액 : 1백만원 이상",
)
WOORI_SUPER = _deposit(
    "WR0001F", "0010001", "우리은행", "우리SUPER주거래적금",
    [(12, "단리", "자유적립식", 2.45, 3.85), (12, "단리", "정액적립식", 2.45, 3.85),
     (24, "단리", "자유적립식", 2.4, 3.8), (24, "단리", "정액적립식", 2.4, 3.8),
     (36, "단리", "자유적립식", 2.4, 3.8), (36, "단리", "정액적립식", 2.4, 3.8)],
    saving=True,
    preferential_conditions=(
        "1.우리은행 입출식 계좌에서 각 항목별 실적 월 수가 계약기간의 1/2이상인 경우\n"
        "가.급여/연금 이체:연 0.7%p\n나.공과금 자동이체 출금: 0.3%p\n"
        "다.우리카드사 신용/체크카드 결제 10만원 이상: 연 0.3%p\n"
        "2.상품서비스 마케팅 동의 항목 중 전화(휴대폰) 및 SMS항목을 모두 동의 후 만기까지 유지 : 연 0.1%p\n"
        "3.금리쿠폰을 적용"
    ),
    join_member="실명의 개인",
    description="1. 가입기간 : 1년/2년/3년\n2. 가입금액 : 월 50만원 이내",
)
MZ_PLAN = _deposit(
    "220002501", "0010020", "제주은행", "MZ 플랜적금",
    [(12, "단리", "자유적립식", 2.95, 4.95), (24, "단리", "자유적립식", 3.15, 5.15)],
    saving=True,
    preferential_conditions=(
        "①매월 1회이상 지속적 납입시:1년제: 0.50%\n② 목표 금액 달성:0.50%\n"
        "③ 신용카드,체크카드 합산 사용액 월10만원 이상 사용: 0.50%\n* 청년이니까응원합니다 이벤트 : 0.50%"
    ),
    join_member="개인 및 개인사업자",
    max_limit=300_000,
    description="월 납입한도 30만원 이하",
)
OMYEON = _deposit(
    "21001292", "0010024", "경남은행", "오면우대! 하면우대!\n정기적금",
    [(12, "단리", "정액적립식", 1.9, 7.0)],
    saving=True,
    preferential_conditions=(
        "신규고객\n①적금가입시3.0%\n②상품가입 전 마케팅동의시0.1%\n"
        "③이 적금 신규월 포함 3개월 동안 10만원 이상 경남은행 카드 대금결제시2.0%\n기존고객\n"
        "①급여 또는 연금입금시1.5%\n②공과금 자동이체시 2.0%"
    ),
    join_member="실명의 개인",
    max_limit=500_000,
    description="1.계악기간은 1년제로 한다.\n2. 적립금액은 매월 10만원이상, 50만원 이하(1만원 이상)",
)
NH1934 = _deposit(
    "10-047-1365-0001", "0013175", "농협은행주식회사", "NH1934월복리적금",
    [(6, "복리", "자유적립식", 2.45, 5.95), (12, "복리", "자유적립식", 2.55, 6.05),
     (24, "복리", "자유적립식", 2.6, 6.1)],
    saving=True,
    preferential_conditions=(
        "1. 급여실적 : 1.0%p (①/② 중복 적용 불가)\n ① 급여이체 실적 : 1.0%p\n ② 개인사업자 계좌 실적 :1.0%p\n"
        "2. 비대면 채널 이체 실적 : 0.3%p\n3. 마케팅 동의 : 0.2%p\n4. 농업계고 및 청년농부사관학교 졸업자 : 2.0%p"
    ),
    join_member="만19세~만34세 개인 및 개인사업자",
    max_limit=500_000,
    description="초입금 및 매회 1만원 이상, 월 50만원 이내 자유적립",
)
KB_SPECIAL = _deposit(
    "010200100104", "0010927", "국민은행", "KB 특★한 적금",
    [(1, "단리", "자유적립식", 2.0, 6.0), (3, "단리", "자유적립식", 2.0, 6.0), (6, "단리", "자유적립식", 2.0, 6.0)],
    saving=True,
    preferential_conditions=(
        "항목별 적용 조건 충족시, 최고 연 4.0%p\n① 목표달성 축하 우대이율: 최고 연 1.0%p\n"
        "    50만원 이하: 연 0.5%p, 50만원 초과: 연 1.0%p \n② 별 모으기 우대이율 : 최고 연 1.0%p\n"
        "    10개: 연 0.5%p, 20개: 연 1.0%p\n③ 함께해요 우대이율: 최고 연 2.0%p"
    ),
    join_member="실명의 개인",
    description="개인사업자, 임의단체 및\n공동명의 가입 불가\n(1인 최대 3계좌)",
)

KCGI_CHINA = _fund(  # 높은위험 → grade 2
    "KF04008455", "KCGI 차이나 증권투자신탁(주식) Ce적", "KCGI자산운용(구 메리츠)", "주식형", 2, 1.51,
    {"m1": 7.31, "m3": 14.3, "m6": 14.56, "m12": 46.52},
    "범중국 성장기업에 선별투자 중국, 홍콩, 대만 등 범중국 지역에 상장된 종목 중 재무 구조가 탄탄하고 "
    "높은 경쟁력과 성장성을 지닌 기업 위주로 투자\n- 성장 잠재력이 높은 중국기업을 현지 운용사와의 공동 "
    "운용을 통해 발굴 - 장기투자 철학을 바탕으로 운용되어 1년 이상 성과 유형대비 최상위권",
)
KB_MMF = _fund(  # 매우낮은위험 → grade 6
    "KF04000398", "KB스타 개인용 MMF P-101호(국공채) C", "KB자산운용", "MMF", 6, 0.4,
    {"m1": 2.27, "m3": 2.24, "m6": 2.2, "m12": 2.21},
    "단기여유자금의 안정적인 관리수단\n- 구) KB국공채신종MMF104 가 명칭 변경됨 - 특수한 경우를 제외하고는 "
    "단기자금을 수시로 입·출금 할 수 있으며, 환매수수료가 없습니다.",
)
AB_HIGH_YIELD = _fund(  # 낮은위험 → grade 5
    "KF04001507", "AB 글로벌 고수익 증권투자신탁 (채권-재간접형)-Ce", "얼라이언스번스틴자산운용", "채권형", 5, 0.665,
    {"m1": -0.27, "m3": -0.19, "m6": 1.43, "m12": 5.39},
    "글로벌 고수익 채권 투자로 수익 추구\n▷ 주식에 가까운 기대수익 대비 상대적으로 낮은 변동성위험 ▷ 다양한 "
    "글로벌 채권 분산투자를 통해 안정적 이자수익과 자본증식 추구 - 하이일드채권, 이머징마켓채권, "
    "투자적격채권 등 약 900종에 분산투자",
)
KB_VALUE_30 = _fund(  # 보통위험 → grade 4
    "KF04001190", "KB 밸류 포커스 30 증권자투자신탁(채권혼합) C-E", "KB자산운용", "채권혼합형", 4, 0.905,
    {"m1": 5.02, "m3": 9.0, "m6": 15.43, "m12": 30.08},
    "우량 채권에 가치주 투자 더하기\n▶ 가치주 투자로 수익성을 추구하면서 우량 채권투자로 안정성을 동시에 추구",
)
KB_INDIA = _fund(  # 다소높은위험 → grade 3
    "KF04000152", "KB 인디아 증권 자투자신탁(주식)-C-E", "KB자산운용", "주식형", 3, 1.925,
    {"m1": -4.37, "m3": -11.08, "m6": -17.82, "m12": -19.38},
    "고도성장이 기대되는 인도 주식에 투자 높은 경제성장률과 투자확대 추세로 향후 지속적인 성장이 가능할 "
    "것으로기대되는 인도시장에 투자\n■ 해외투자형 국내펀드",
)
KB_BRAZIL = _fund(  # 매우높은위험 → grade 1
    "KF04000156", "KB 브라질 증권 자투자신탁(주식)-C-E", "KB자산운용", "주식형", 1, 1.945,
    {"m1": -13.03, "m3": -8.59, "m6": 6.55, "m12": 27.08},
    "원자재 부국 브라질 관련 주식에 투자\n■ 해외투자형 국내펀드 - 세계경제 성장의 수혜를 누리는 브라질 주식시장에 투자",
)
KOREA_VALUE_10Y = _fund(  # a number-and-unit inside the name ("10년투자")
    "KF04001557", "한국밸류 10년투자 증권투자신탁 1호(주식)-CE", "한국투자밸류자산운용", "주식형", 2, 1.304,
    {"m1": 23.41, "m3": 37.88, "m6": 93.8, "m12": 148.7},
    "국내 저평가 가치주에 투자\n■ 내재가치 대비 저평가된 종목에 투자하는 가치투자를 실천",
)
KB_NASDAQ = _fund(  # young fund: the feed fills m6/m12 with 0.0
    "KF04012151", "KB스타 미국 나스닥 100 인덱스 증권 자투자신탁(주식-파생형)(UH) C-E", "KB자산운용", "주식형", 2, 1.0,
    {"m1": 11.35, "m3": 21.63, "m6": 0.0, "m12": 0.0},
    "나스닥100 지수 추종 인덱스펀드\n- 나스닥 증권 시장에 상장된 시가총액 상위 100여개 기업 주식으로 구성",
)
SAMSUNG_EMP = _fund(  # description carries its own numbers ("5년 이상", "연7%")
    "KF04011888", "삼성 EMP 리얼리턴 맥스 증권자투자신탁UH(주식-재간접형) Ce", "삼성자산운용", "주식형", 2, 0.9,
    {"m1": 5.78, "m3": 10.64, "m6": 21.79, "m12": 0.0},
    "AI기반 글로벌 자산배분 투자 5년 이상 투자시 인플레이션+연7%의 수익률을 추구하는 펀드로 기대수익률 "
    "달성을 위해 국내외 다양한 자산에 분산",
)
MIDAS_TURTLE = _fund(  # 보통위험 → grade 4; its one-liner says "4등급(보통위험)"
    "KF04010213", "마이다스 거북이90 증권자투자신탁 1호(주식) CE", "마이다스에셋자산운용", "주식형", 4, 1.08,
    {"m1": 6.69, "m3": 12.02, "m6": 13.92, "m12": 31.37},
    "롱숏전략으로 중위험중수익 추구 우량채 투자를 바탕으로 주식 롱숏 및 공모주 투자 등을 통해 시중금리 "
    "이상의 수익을 추구하는 4등급(보통위험) 주식형",
)

WOORI_CREDIT = Product(  # thefp creditloan fixture CR0001A: type A rows; the 0.0 band is not offered
    product_id="credit_loan:0010001:CR0001A",
    product_type=ProductType.CREDIT_LOAN,
    source="finlife:credit_loan",
    provider="우리은행",
    provider_code="0010001",
    product_code="CR0001A",
    name="개인신용대출 우대고객",
    category="일반신용대출",
    rates=tuple(
        RateOption(label=label, base_rate=rate)
        for label, rate in (
            ("신용점수 900점 초과", 5.33), ("신용점수 801~900점", 6.26), ("신용점수 701~800점", 7.66),
            ("신용점수 601~700점", 8.5), ("신용점수 501~600점", 9.73), ("신용점수 401~500점", 9.89),
            ("신용점수 300점 이하", 10.01), ("평균금리", 5.8),
        )
    ),
    join_channels=("영업점", "인터넷", "스마트폰"),
    extra={"cb_name": "KCB", "rate_components": {"기준금리": {"평균": 3.66}, "가산금리": {"평균": 3.4}}},
)
LOTTE_ANNUITY = Product(  # thefp annuity fixture 2920
    product_id="annuity:0010628:2920",
    product_type=ProductType.ANNUITY,
    source="finlife:annuity",
    provider="롯데손해보험주식회사",
    provider_code="0010628",
    product_code="2920",
    name="연금저축손해보험 롯데 행복한동행 연금보험(2004)",
    category="연금저축보험(손해)",
    rates=(RateOption(label="공시이율", base_rate=1.6),),
    guaranteed_rate_text="경과기간 5년이하:1.25%\n\n경과기간 10년이하:1.0%\n 경과기간 10년초과:0.3%",
    recent_returns={"y1_ago": 1.6, "y2_ago": 1.65},
    extra={"prdt_type_nm": "금리연동형", "mntn_cnt": 363},
)

DEPOSITS = [WON_PLUS, E_GREEN, MIZ, JEJU_DREAM, KB_STAR]
SAVINGS = [WOORI_SUPER, MZ_PLAN, OMYEON, NH1934, KB_SPECIAL]
FUNDS = [KCGI_CHINA, KB_MMF, AB_HIGH_YIELD, KB_VALUE_30, KB_INDIA, KB_BRAZIL, KOREA_VALUE_10Y, KB_NASDAQ,
         SAMSUNG_EMP, MIDAS_TURTLE]
ALL_PRODUCTS = [*DEPOSITS, *SAVINGS, *FUNDS, WOORI_CREDIT, LOTTE_ANNUITY]
FUND_BY_GRADE = {1: KB_BRAZIL, 2: KCGI_CHINA, 3: KB_INDIA, 4: KB_VALUE_30, 5: AB_HIGH_YIELD, 6: KB_MMF}

# =============================================================================================
# tests
# =============================================================================================

# expected[profile] = grades allowed (금융투자협회 표준투자권유준칙 example matrix)
EXPECTED_ALLOWED = {
    1: {6},
    2: {5, 6},
    3: {4, 5, 6},
    4: {2, 3, 4, 5, 6},
    5: {1, 2, 3, 4, 5, 6},
}


@pytest.mark.parametrize("profile", [1, 2, 3, 4, 5])
@pytest.mark.parametrize("grade", [1, 2, 3, 4, 5, 6])
def test_matrix_for_every_profile_and_grade(profile: int, grade: int) -> None:
    verdict = check(FUND_BY_GRADE[grade], profile)
    assert verdict.allowed is (grade in EXPECTED_ALLOWED[profile])
    # the store filter agrees with the rule
    assert (grade >= max_risk_grade_riskiest(profile)) is verdict.allowed


def test_riskiest_allowed_grade_table() -> None:
    assert RISKIEST_ALLOWED_GRADE == {1: 6, 2: 5, 3: 4, 4: 2, 5: 1}
    assert max_risk_grade_riskiest(None) == NO_GRADED_PRODUCTS == 7
    assert allowed_grades_text(1) == "6등급"
    assert allowed_grades_text(2) == "5~6등급"


def test_unsuitable_note_explains_the_rule() -> None:
    verdict = check(KCGI_CHINA, 2)
    assert not verdict.allowed
    assert verdict.note == (
        "고객님의 투자성향(안정추구형)에는 5~6등급 상품까지 권유할 수 있어, 2등급(높은위험) 펀드는 제외했습니다."
    )
    stable = check(AB_HIGH_YIELD, 1)
    assert stable.note.startswith("고객님의 투자성향(안정형)에는 6등급(매우낮은위험) 상품만 권유할 수 있어")


def test_suitable_fund_note() -> None:
    verdict = check(KB_VALUE_30, 3)
    assert verdict.allowed
    assert verdict.note == "투자성향(위험중립형)에 적합한 4등급(보통위험) 상품입니다."


@pytest.mark.parametrize("profile", [None, 1, 2, 3, 4, 5])
@pytest.mark.parametrize("product", [*DEPOSITS, *SAVINGS, WOORI_CREDIT, LOTTE_ANNUITY], ids=lambda p: p.product_id)
def test_non_investment_products_always_allowed(profile: int | None, product: Product) -> None:
    assert check(product, profile).allowed


def test_deposit_note_states_the_real_protection_limit() -> None:
    note = check(WON_PLUS, 1).note
    assert "예금자보호" in note and "1억원" in note and "모든 투자성향" in note
    # outside 은행/저축은행 we do not claim 예금자보호
    other = WON_PLUS.model_copy(update={"fin_group": None})
    assert "예금자보호" not in check(other, 1).note


def test_loan_note_says_suitability_is_not_about_risk_profile() -> None:
    note = check(WOORI_CREDIT, 1).note
    assert "투자성향이 아니라" in note


def test_ungraded_investment_product_only_for_aggressive() -> None:
    ungraded = KCGI_CHINA.model_copy(update={"risk_grade": None})
    for profile in (None, 1, 2, 3, 4):
        assert not check(ungraded, profile).allowed
    assert check(ungraded, 5).allowed
    pension_fund = LOTTE_ANNUITY.model_copy(update={"category": "연금저축펀드"})
    assert not check(pension_fund, 3).allowed


def test_unknown_profile_gets_no_investment_products() -> None:
    verdict = check(KB_MMF, None)
    assert not verdict.allowed
    assert "투자성향 정보가 없으면" in verdict.note
    assert check(WON_PLUS, None).allowed


def test_invalid_profile_rejected() -> None:
    with pytest.raises(ValueError, match="1..5"):
        check(KB_MMF, 6)
