"""Code tables of the Korean product feeds: 권역 codes, risk grades, product-type names.

They live apart from the parsers and the model so that every module can read them without
importing a parser (``ragtext`` once imported ``finlife`` for :data:`FIN_GROUPS`, which imported
``model``, which imports ``ragtext``: a circle).
"""

from __future__ import annotations

# topFinGrpNo → 권역 (FSS 금융상품한눈에 OpenAPI).
FIN_GROUPS: dict[str, str] = {
    "020000": "은행",
    "030200": "여신전문",
    "030300": "저축은행",
    "050000": "보험",
    "060000": "금융투자",
}

# Korean 6-grade investment risk scale (금융투자협회): 1 is the riskiest.
RISK_GRADE_KO: dict[int, str] = {
    1: "매우높은위험",
    2: "높은위험",
    3: "다소높은위험",
    4: "보통위험",
    5: "낮은위험",
    6: "매우낮은위험",
}

# creditLoan option columns → CB score band (FSS switched from 등급 to 점수 bands in 2021).
CREDIT_BANDS: dict[str, str] = {
    "crdt_grad_1": "900점 초과",
    "crdt_grad_4": "801~900점",
    "crdt_grad_5": "701~800점",
    "crdt_grad_6": "601~700점",
    "crdt_grad_10": "501~600점",
    "crdt_grad_11": "401~500점",
    "crdt_grad_12": "301~400점",
    "crdt_grad_13": "300점 이하",
    "crdt_grad_avg": "평균",
}
