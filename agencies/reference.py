"""Reference data that is part of the product, not of one deployment: the partner banks."""

from __future__ import annotations

from typing import NamedTuple


class PartnerBankInfo(NamedTuple):
    code: str
    name_zh: str
    name_en: str


# The partner banks that produce Shanghai social security cards (PRODUCT.md, "Who uses it").
PARTNER_BANKS: tuple[PartnerBankInfo, ...] = (
    PartnerBankInfo("BOSC", "上海银行", "Bank of Shanghai"),
    PartnerBankInfo("SPDB", "上海浦东发展银行", "Shanghai Pudong Development Bank"),
    PartnerBankInfo("SRCB", "上海农村商业银行", "Shanghai Rural Commercial Bank"),
    PartnerBankInfo("ICBC", "中国工商银行", "Industrial and Commercial Bank of China"),
    PartnerBankInfo("ABC", "中国农业银行", "Agricultural Bank of China"),
    PartnerBankInfo("CCB", "中国建设银行", "China Construction Bank"),
    PartnerBankInfo("PSBC", "中国邮政储蓄银行", "Postal Savings Bank of China"),
)
