"""Question understanding: many phrasings per slot, against the bundled catalogue's providers."""

from __future__ import annotations

import pytest

from finray.intent import Eligibility, IntentParser, Objective, ProviderClass, ProviderDirectory, merge_request
from finray.products.model import ProductType
from finray.products.snapshot import load_snapshot

D, S, A, F, C = ProductType.DEPOSIT, ProductType.SAVING, ProductType.ANNUITY, ProductType.FUND, ProductType.CREDIT_LOAN


@pytest.fixture(scope="module")
def parser() -> IntentParser:
    products = [p for r in load_snapshot().values() for p in r.products]
    return IntentParser(ProviderDirectory.from_products(products))


@pytest.mark.parametrize(("question", "months"), [
    ("12개월 정기예금", 12), ("1년짜리 적금", 12), ("일년짜리 적금", 12), ("2년 동안 모을 적금", 24),
    ("24개월 만기 예금", 24), ("6개월짜리 예금", 6), ("반년 맡길 예금", 6), ("3년 적금", 36),
    ("세 달짜리 예금", 3), ("18개월 적금", 18), ("36개월", 36), ("정기예금 추천", None),
    ("2026년에 가입할 예금", None),
])
def test_term(parser: IntentParser, question: str, months: int | None) -> None:
    assert parser.parse(question).term_months == months


@pytest.mark.parametrize(("question", "amount", "period"), [
    ("3천만원을 1년 맡기면", 30_000_000, "once"), ("500만 원 예금", 5_000_000, "once"),
    ("월 50만원씩 적금", 500_000, "monthly"), ("매달 30만 원씩 모으기", 300_000, "monthly"),
    ("1억 5천만원 정기예금", 150_000_000, "once"), ("10,000,000원 예치", 10_000_000, "once"),
    ("적금에 20만원 넣으면", 200_000, "monthly"), ("1억원 예금", 100_000_000, "once"),
    ("금리 높은 예금", None, None),
])
def test_amount(parser: IntentParser, question: str, amount: int | None, period: str | None) -> None:
    intent = parser.parse(question)
    assert (intent.amount_krw, intent.amount_period) == (amount, period)


@pytest.mark.parametrize(("question", "providers"), [
    ("우리은행 정기예금 추천해 주세요", ["우리은행"]),
    ("우리금융저축은행 예금", ["우리금융저축은행"]),  # never 우리은행
    ("KB 적금", ["국민은행"]), ("KB국민은행 적금", ["국민은행"]), ("국민은행 예금", ["국민은행"]),
    ("KB저축은행 예금", ["케이비저축은행"]),  # never 국민은행
    ("카카오뱅크 적금", ["주식회사 카카오뱅크"]), ("카뱅 예금", ["주식회사 카카오뱅크"]),
    ("토스뱅크 예금", ["토스뱅크 주식회사"]), ("IBK기업은행 예금", ["중소기업은행"]),
    ("기업은행 적금", ["중소기업은행"]), ("SC제일은행 예금", ["한국스탠다드차타드은행"]),
    ("NH농협은행 적금", ["농협은행주식회사"]), ("케이뱅크 적금", ["주식회사 케이뱅크"]),
    ("우리 아이 적금", []),  # "우리" is "we"
    ("하나도 모르겠어요 예금", []),  # "하나" is "one"
])
def test_providers(parser: IntentParser, question: str, providers: list[str]) -> None:
    assert parser.parse(question).providers == providers


def test_provider_names_resolve_only_to_the_catalogue(parser: IntentParser) -> None:
    assert all(p in parser.directory.providers for forms in parser.directory.forms.values() for p in forms)
    assert parser.parse("우체국은행 예금").providers == []
    assert parser.parse("우체국은행 예금").unresolved_providers == ["우체국은행"]


@pytest.mark.parametrize(("question", "classes"), [
    ("저축은행 예금 중 금리 높은 거", [ProviderClass.SAVINGS_BANK]),
    ("인터넷은행 적금", [ProviderClass.INTERNET_BANK]),
    ("시중은행 예금", [ProviderClass.BANK]),
    ("우리은행 예금", []),
])
def test_provider_classes(parser: IntentParser, question: str, classes: list[ProviderClass]) -> None:
    assert parser.parse(question).provider_classes == classes


def test_class_resolves_to_providers_of_that_class(parser: IntentParser) -> None:
    internet = parser.directory.of_class(ProviderClass.INTERNET_BANK)
    assert set(internet) == {"주식회사 카카오뱅크", "주식회사 케이뱅크", "토스뱅크 주식회사"}
    savings = parser.directory.of_class(ProviderClass.SAVINGS_BANK)
    assert "대명상호저축은행" in savings and "우리은행" not in savings


@pytest.mark.parametrize(("question", "types"), [
    ("12개월 정기예금", [D]), ("적금 추천", [S]), ("예적금 비교", [D, S]), ("연금저축 상품", [A]),
    ("펀드 알려줘", [F]), ("신용대출 금리", [C]), ("급하게 돈이 필요해서 빌리고 싶어요", [C]),
    ("목돈을 맡기고 이자 받고 싶어요", [D]), ("매달 조금씩 모으고 싶어요", [S]),
    ("노후 대비 세액공제 상품", [A]), ("원금 손실 위험이 거의 없는 안전한 상품", [D, S]),
    ("저축은행 예금", [D]),  # 저축 there is the company class, not a wish to save
])
def test_product_types(parser: IntentParser, question: str, types: list[ProductType]) -> None:
    assert parser.parse(question).product_types == types


@pytest.mark.parametrize(("question", "objective"), [
    ("12개월 정기예금 중 금리가 가장 높은 상품", Objective.HIGHEST_RATE),
    ("6개월짜리 예금 중에 이자 제일 많이 주는 거", Objective.HIGHEST_RATE),
    ("고금리 적금", Objective.HIGHEST_RATE), ("12개월 정기예금 금리", Objective.HIGHEST_RATE),
    ("금리 낮은 신용대출", Objective.LOWEST_RATE), ("위험이 낮은 펀드", Objective.LOWEST_RISK),
    ("원금 보장되는 상품", Objective.PRINCIPAL_PROTECTED), ("세액공제 되는 연금", Objective.TAX_BENEFIT),
    ("배당 펀드", Objective.INCOME),
])
def test_objectives(parser: IntentParser, question: str, objective: Objective) -> None:
    assert objective in parser.parse(question).objectives


@pytest.mark.parametrize(("question", "eligibility"), [
    ("청년 전용 적금 있어요?", Eligibility.YOUTH), ("사회초년생 적금", Eligibility.YOUTH),
    ("첫거래 우대 예금", Eligibility.FIRST_CUSTOMER), ("첫 거래 고객 예금", Eligibility.FIRST_CUSTOMER),
    ("급여이체하면 우대되는 적금", Eligibility.SALARY_TRANSFER), ("시니어 예금", Eligibility.SENIOR),
])
def test_eligibility(parser: IntentParser, question: str, eligibility: Eligibility) -> None:
    assert eligibility in parser.parse(question).eligibility


def test_chips_read_as_the_question(parser: IntentParser) -> None:
    intent = parser.parse("12개월 정기예금 중 금리가 가장 높은 상품 추천해 주세요")
    assert intent.summary() == "12개월 · 정기예금 · 금리 높은 순"
    assert [c.slot for c in intent.chips()] == ["term_months", "product_types", "objectives"]


def test_request_fields_win_and_removed_chips_stay_removed(parser: IntentParser) -> None:
    intent = parser.parse("우리은행 12개월 정기예금")
    assert merge_request(intent, term_months=6).term_months == 6
    dropped = merge_request(intent, drop=["term_months", "providers"])
    assert dropped.term_months is None and dropped.providers == [] and dropped.product_types == [D]
    assert merge_request(intent, amount_krw=1_000_000).amount_krw == 1_000_000
    assert merge_request(intent, product_types=[S]).source["product_types"] == "request"


@pytest.mark.parametrize(("question", "types", "categories"), [
    ("채권형 펀드 추천", [F], ["채권형"]), ("주식혼합형 펀드", [F], ["주식혼합형"]),
    ("연금저축펀드 상품 알려 주세요", [A], ["연금저축펀드"]),
    ("연금저축보험 상품", [A], ["연금저축보험(생명)", "연금저축보험(손해)"]),
    ("마이너스통장 만들고 싶어요", [C], ["마이너스한도대출"]),
    ("주택담보대출 추천", [ProductType.MORTGAGE_LOAN], []),  # its 대출 is not also a credit loan
    ("전세자금대출", [ProductType.RENT_LOAN], []),
])
def test_categories_and_specific_loans(parser: IntentParser, question: str, types: list, categories: list) -> None:
    intent = parser.parse(question)
    assert (intent.product_types, intent.categories) == (types, categories)
