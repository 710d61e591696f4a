"""Demo data for a laptop or a staging site: banks, service points, staff logins, people, employers,
employments, insurance enrolments and the municipal registry's records of the people.

`seed_demo()` runs STEPS in order inside one transaction. Every step creates only what is missing,
found by a natural key (bank code, service point code, username, USCC, identity document,
applicant + employer, applicant + insurance + route), and never updates an existing row: running it
again changes nothing, and a tester's edits in the admin survive `make run`. The data is drawn from
`random.Random` seeded per step from DEMO_SEED, so every run plans the same data; dates of
employments and enrolments are counted back from today.

A later step (cards in every lifecycle state) is appended to STEPS: see `_seed_cards`.
"""

from __future__ import annotations

import datetime
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.utils import timezone
from stdnum.cn import uscc as uscc_number

from accounts.services import two_factor_device, two_factor_enrol
from agencies.choices import District, ServicePointKind, StaffRole
from agencies.models import PartnerBank, ServicePoint, Staff
from agencies.reference import PARTNER_BANKS
from agencies.services import staff_assign
from applicants import services as applicant_services
from applicants.choices import EmployerKind, EnrolmentRoute, IdDocumentType, Insurance, Sex
from applicants.identity import compose_resident_id, validate_identity_document
from applicants.models import Applicant, Employer, Employment, InsuranceEnrolment, RegistryRecord
from applicants.policy import enrolment_eligibility, person_facts
from common.errors import ApplicationError
from demo.cards import seed_cards

DEMO_SEED = 2026

# --- Places -----------------------------------------------------------------------------------

DISTRICT_ZH: dict[str, str] = {
    District.HUANGPU: "黄浦区",
    District.XUHUI: "徐汇区",
    District.CHANGNING: "长宁区",
    District.JINGAN: "静安区",
    District.PUTUO: "普陀区",
    District.HONGKOU: "虹口区",
    District.YANGPU: "杨浦区",
    District.MINHANG: "闵行区",
    District.BAOSHAN: "宝山区",
    District.JIADING: "嘉定区",
    District.PUDONG: "浦东新区",
    District.JINSHAN: "金山区",
    District.SONGJIANG: "松江区",
    District.QINGPU: "青浦区",
    District.FENGXIAN: "奉贤区",
    District.CHONGMING: "崇明区",
}

# The administrative code of each district (GB/T 2260): resident ID numbers of people whose
# household registration was first made there start with it, and so do USCCs registered there.
DISTRICT_REGION: dict[str, str] = {
    District.HUANGPU: "310101",
    District.XUHUI: "310104",
    District.CHANGNING: "310105",
    District.JINGAN: "310106",
    District.PUTUO: "310107",
    District.HONGKOU: "310109",
    District.YANGPU: "310110",
    District.MINHANG: "310112",
    District.BAOSHAN: "310113",
    District.JIADING: "310114",
    District.PUDONG: "310115",
    District.JINSHAN: "310116",
    District.SONGJIANG: "310117",
    District.QINGPU: "310118",
    District.FENGXIAN: "310120",
    District.CHONGMING: "310151",
}
# Every drawn number is checked with applicants.identity; the plan draws again if it is refused.
SHANGHAI_REGION_DISTRICT: dict[str, str] = {code: d for d, code in DISTRICT_REGION.items()}

OTHER_PROVINCE_REGIONS: dict[str, str] = {
    "320102": "江苏省南京市玄武区",
    "330106": "浙江省杭州市西湖区",
    "340104": "安徽省合肥市蜀山区",
    "410102": "河南省郑州市中原区",
    "510104": "四川省成都市锦江区",
    "420102": "湖北省武汉市江岸区",
    "370102": "山东省济南市历下区",
    "350102": "福建省福州市鼓楼区",
    "360102": "江西省南昌市东湖区",
    "230102": "黑龙江省哈尔滨市道里区",
}

DISTRICT_ROADS: dict[str, tuple[str, ...]] = {
    District.HUANGPU: ("淮海中路", "西藏南路", "复兴中路"),
    District.XUHUI: ("漕溪北路", "田林路", "天钥桥路"),
    District.CHANGNING: ("天山路", "仙霞路", "延安西路"),
    District.JINGAN: ("南京西路", "共和新路", "万航渡路"),
    District.PUTUO: ("武宁路", "真北路", "曹杨路"),
    District.HONGKOU: ("四川北路", "曲阳路", "大连路"),
    District.YANGPU: ("四平路", "国权路", "长阳路"),
    District.MINHANG: ("莘松路", "七莘路", "沪闵路"),
    District.BAOSHAN: ("牡丹江路", "共康路", "友谊路"),
    District.JIADING: ("城中路", "塔城路", "墨玉路"),
    District.PUDONG: ("张杨路", "世纪大道", "浦东南路"),
    District.JINSHAN: ("卫清西路", "龙皓路", "金山大道"),
    District.SONGJIANG: ("中山中路", "人民北路", "荣乐东路"),
    District.QINGPU: ("公园路", "城中东路", "华青路"),
    District.FENGXIAN: ("南桥路", "解放中路", "金海路"),
    District.CHONGMING: ("八一路", "东门路", "人民路"),
}


@dataclass(frozen=True)
class ServicePointSpec:
    code: str
    name: str
    kind: str
    district: str
    address: str
    phone: str
    opening_hours: str
    bank_code: str = ""


_CENTER_HOURS = "周一至周五 9:00-17:00，周六 9:00-12:00"
_OFFICE_HOURS = "周一至周五 8:30-17:00"
_BANK_HOURS = "周一至周日 9:00-17:00"

_CENTER = ServicePointKind.COMMUNITY_CENTER
_STATION = ServicePointKind.STREET_STATION
_MEDICAL_CENTER = ServicePointKind.COUNTY_MEDICAL_CENTER
_MEDICAL_POINT = ServicePointKind.STREET_MEDICAL_POINT
_OUTLET = ServicePointKind.BANK_OUTLET
_HOTLINE = ServicePointKind.HOTLINE

# fmt: off
SERVICE_POINTS: tuple[ServicePointSpec, ...] = (
    # Community affairs acceptance centers (社区事务受理服务中心).
    ServicePointSpec("CC-XH-CHJ", "徐汇区漕河泾街道社区事务受理服务中心", _CENTER, District.XUHUI,
                     "上海市徐汇区田林路200号", "021-64853300", _CENTER_HOURS),
    ServicePointSpec("CC-JA-JAS", "静安区静安寺街道社区事务受理服务中心", _CENTER, District.JINGAN,
                     "上海市静安区万航渡路100号", "021-62470011", _CENTER_HOURS),
    ServicePointSpec("CC-PD-LJZ", "浦东新区陆家嘴街道社区事务受理服务中心", _CENTER,
                     District.PUDONG, "上海市浦东新区浦东南路999号", "021-58790222", _CENTER_HOURS),
    ServicePointSpec("CC-YP-WJC", "杨浦区五角场街道社区事务受理服务中心", _CENTER, District.YANGPU,
                     "上海市杨浦区国权路39号", "021-65112345", _CENTER_HOURS),
    ServicePointSpec("CC-MH-XZ", "闵行区莘庄镇社区事务受理服务中心", _CENTER, District.MINHANG,
                     "上海市闵行区莘松路380号", "021-64921234", _CENTER_HOURS),
    ServicePointSpec("CC-CN-HQ", "长宁区虹桥街道社区事务受理服务中心", _CENTER, District.CHANGNING,
                     "上海市长宁区仙霞路88号", "021-62751818", _CENTER_HOURS),
    # Street/township service stations.
    ServicePointSpec("ST-BS-DC", "宝山区大场镇社区事务受理服务站", _STATION, District.BAOSHAN,
                     "上海市宝山区共康路505号", "021-56501234", _CENTER_HOURS),
    ServicePointSpec("ST-JD-AT", "嘉定区安亭镇社区事务受理服务站", _STATION, District.JIADING,
                     "上海市嘉定区墨玉路185号", "021-59571234", _CENTER_HOURS),
    ServicePointSpec("ST-HK-SCB", "虹口区四川北路街道社区服务站", _STATION, District.HONGKOU,
                     "上海市虹口区四川北路1666号", "021-56961234", _CENTER_HOURS),
    ServicePointSpec("ST-SJ-SJ", "松江区泗泾镇社区事务受理服务站", _STATION, District.SONGJIANG,
                     "上海市松江区荣乐东路50号", "021-57621234", _CENTER_HOURS),
    # County/district medical insurance centers: medical insurance cards on the spot.
    ServicePointSpec("MC-HP", "黄浦区医疗保险事务中心", _MEDICAL_CENTER, District.HUANGPU,
                     "上海市黄浦区西藏南路1200号", "021-63181234", _OFFICE_HOURS),
    ServicePointSpec("MC-PT", "普陀区医疗保险事务中心", _MEDICAL_CENTER, District.PUTUO,
                     "上海市普陀区真北路1888号", "021-52561234", _OFFICE_HOURS),
    ServicePointSpec("MC-QP", "青浦区医疗保险事务中心", _MEDICAL_CENTER, District.QINGPU,
                     "上海市青浦区公园路100号", "021-59721234", _OFFICE_HOURS),
    ServicePointSpec("MC-CM", "崇明区医疗保险事务中心", _MEDICAL_CENTER, District.CHONGMING,
                     "上海市崇明区八一路300号", "021-59611234", _OFFICE_HOURS),
    # Street/town medical insurance service points: cards within 3 working days.
    ServicePointSpec("MP-FX-NQ", "奉贤区南桥镇医保服务点", _MEDICAL_POINT, District.FENGXIAN,
                     "上海市奉贤区南桥路500号", "021-57421234", _OFFICE_HOURS),
    ServicePointSpec("MP-JS-ZJ", "金山区朱泾镇医保服务点", _MEDICAL_POINT, District.JINSHAN,
                     "上海市金山区卫清西路99号", "021-57321234", _OFFICE_HOURS),
    ServicePointSpec("MP-XH-TPL", "徐汇区天平路街道医保服务点", _MEDICAL_POINT, District.XUHUI,
                     "上海市徐汇区天钥桥路30号", "021-64311234", _OFFICE_HOURS),
    # Partner-bank outlets: at least one for every partner bank.
    ServicePointSpec("BO-BOSC-XJH", "上海银行徐家汇支行", _OUTLET, District.XUHUI,
                     "上海市徐汇区漕溪北路18号", "021-64871234", _BANK_HOURS, "BOSC"),
    ServicePointSpec("BO-BOSC-ZY", "上海银行张杨路支行", _OUTLET, District.PUDONG,
                     "上海市浦东新区张杨路600号", "021-58351234", _BANK_HOURS, "BOSC"),
    ServicePointSpec("BO-SPDB-LJZ", "上海浦东发展银行陆家嘴支行", _OUTLET, District.PUDONG,
                     "上海市浦东新区世纪大道100号", "021-68881234", _BANK_HOURS, "SPDB"),
    ServicePointSpec("BO-SRCB-SJ", "上海农村商业银行松江支行", _OUTLET, District.SONGJIANG,
                     "上海市松江区中山中路200号", "021-57811234", _BANK_HOURS, "SRCB"),
    ServicePointSpec("BO-SRCB-CM", "上海农村商业银行崇明支行", _OUTLET, District.CHONGMING,
                     "上海市崇明区人民路66号", "021-59621234", _BANK_HOURS, "SRCB"),
    ServicePointSpec("BO-ICBC-HP", "中国工商银行上海市黄浦支行", _OUTLET, District.HUANGPU,
                     "上海市黄浦区淮海中路300号", "021-63581234", _BANK_HOURS, "ICBC"),
    ServicePointSpec("BO-ABC-JD", "中国农业银行上海嘉定支行", _OUTLET, District.JIADING,
                     "上海市嘉定区城中路88号", "021-59521234", _BANK_HOURS, "ABC"),
    ServicePointSpec("BO-CCB-CN", "中国建设银行上海长宁支行", _OUTLET, District.CHANGNING,
                     "上海市长宁区延安西路1118号", "021-62101234", _BANK_HOURS, "CCB"),
    ServicePointSpec("BO-PSBC-FX", "中国邮政储蓄银行上海奉贤区支行", _OUTLET, District.FENGXIAN,
                     "上海市奉贤区解放中路150号", "021-57191234", _BANK_HOURS, "PSBC"),
    # The 12333 hotline: phone pre-reports of loss.
    ServicePointSpec("HL-12333", "上海市12333公共服务热线", _HOTLINE, District.JINGAN,
                     "上海市静安区共和新路1001号", "12333", "每天 7:00-22:00"),
)
# fmt: on

MAIN_CENTER = "CC-XH-CHJ"
SECOND_CENTER = "CC-JA-JAS"
HOTLINE_POINT = "HL-12333"


@dataclass(frozen=True)
class DemoLogin:
    """A demo user: a superuser, or a staff member with a role (at a service point, except for
    the central roles)."""

    username: str
    role: str = ""
    point_code: str = ""

    @property
    def superuser(self) -> bool:
        return not self.role


def demo_logins() -> list[DemoLogin]:
    """admin; clerk and supervisor at one community center, clerk2 at another; the hotline
    operator; and `<code>-clerk`, `<code>-supervisor` at every other service point."""
    logins = [
        DemoLogin("admin"),
        DemoLogin("clerk", StaffRole.CLERK, MAIN_CENTER),
        DemoLogin("supervisor", StaffRole.SUPERVISOR, MAIN_CENTER),
        DemoLogin("clerk2", StaffRole.CLERK, SECOND_CENTER),
        DemoLogin("hotline", StaffRole.HOTLINE_OPERATOR, HOTLINE_POINT),
        # The municipal center's separated duties (agencies.choices.CENTRAL_ROLES): no point.
        DemoLogin("sysadmin", StaffRole.SYSTEM_ADMINISTRATOR),
        DemoLogin("secadmin", StaffRole.SECURITY_ADMINISTRATOR),
        DemoLogin("auditor", StaffRole.AUDITOR),
    ]
    for spec in SERVICE_POINTS:
        if spec.code in (MAIN_CENTER, HOTLINE_POINT):
            continue
        prefix = spec.code.lower()
        logins.append(DemoLogin(f"{prefix}-clerk", StaffRole.CLERK, spec.code))
        logins.append(DemoLogin(f"{prefix}-supervisor", StaffRole.SUPERVISOR, spec.code))
    return logins


# --- People and employers ---------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕"
    "丁任沈姚卢顾陆钱施"
)
GIVEN_NAMES = {
    Sex.MALE: (
        "伟", "强", "磊", "军", "勇", "杰", "涛", "明", "超", "斌", "浩", "俊", "鹏", "辉", "宇",
        "晨", "浩然", "子轩", "俊杰", "志强", "建国", "国华", "海峰", "文博", "家豪", "思远",
        "一鸣", "嘉诚", "建华", "卫东",
    ),
    Sex.FEMALE: (
        "芳", "娜", "敏", "静", "丽", "艳", "婷", "雪", "霞", "玲", "洁", "颖", "慧", "倩",
        "欣怡", "佳怡", "雨涵", "梓涵", "诗琪", "晓燕", "丽华", "美玲", "静怡", "思琪", "婉婷",
        "雅琴", "秀英", "桂芳", "佳慧", "蕾",
    ),
}  # fmt: skip
# Homophones (同音字) a registry clerk may have typed instead: the deliberate name differences.
REGISTRY_HOMOPHONES = {
    "伟": "玮", "明": "铭", "军": "君", "杰": "捷", "涛": "韬", "斌": "彬", "浩": "皓",
    "俊": "骏", "辉": "晖", "晨": "辰", "芳": "方", "静": "靖", "丽": "莉", "艳": "燕",
    "婷": "亭", "玲": "琳", "颖": "莹", "慧": "惠", "怡": "宜", "琪": "祺",
}  # fmt: skip

# Passport holders: nationality, name, sex. Holders of the 2023 foreign permanent resident ID
# card: the card's "9 + province 31 + ISO numeric nationality" prefix too.
PASSPORT_HOLDERS = (
    ("USA", "Michael Johnson", Sex.MALE),
    ("USA", "Emily Davis", Sex.FEMALE),
    ("JPN", "Tanaka Hiroshi", Sex.MALE),
    ("KOR", "Kim Jiyeon", Sex.FEMALE),
    ("DEU", "Lukas Schneider", Sex.MALE),
    ("FRA", "Camille Martin", Sex.FEMALE),
)
PERMANENT_RESIDENTS = (
    ("USA", "931840", "David Miller", Sex.MALE),
    ("JPN", "931392", "Suzuki Aiko", Sex.FEMALE),
)
# Hong Kong/Macao/Taiwan residence permit holders: permit prefix, name, sex.
HMT_PERMIT_HOLDERS = (
    ("810000", "陈家豪", Sex.MALE),
    ("810000", "黄凯琳", Sex.FEMALE),
    ("820000", "何嘉欣", Sex.FEMALE),
    ("820000", "梁志伟", Sex.MALE),
    ("830000", "林志明", Sex.MALE),
    ("830000", "王怡君", Sex.FEMALE),
)
SHANGHAI_HUKOU_PEOPLE = 150
MAX_REFUSED_NUMBERS = 1000
OTHER_PROVINCE_PEOPLE = 36
# Individuals may join only these (applicants.choices.INDIVIDUAL_INSURANCES), in a fixed order.
INDIVIDUAL_DEMO_INSURANCES = (Insurance.PENSION, Insurance.MEDICAL)
REGISTRY_DIFFERENCES = ("name", "name", "name", "hukou_place", "hukou_place")

EMPLOYER_KIND_COUNTS = (
    (EmployerKind.ENTERPRISE, 24),
    (EmployerKind.INDIVIDUAL_BUSINESS, 5),
    (EmployerKind.PUBLIC_INSTITUTION, 5),
    (EmployerKind.SOCIAL_ORGANIZATION, 4),
    (EmployerKind.OTHER, 2),
)
# GB 32100: registration authority and entity type, the first two characters of a USCC.
USCC_PREFIX = {
    EmployerKind.ENTERPRISE: "91",
    EmployerKind.INDIVIDUAL_BUSINESS: "92",
    EmployerKind.PUBLIC_INSTITUTION: "12",
    EmployerKind.SOCIAL_ORGANIZATION: "51",
    EmployerKind.OTHER: "93",  # farmers' specialised cooperative
}
# fmt: off
_BRANDS = (
    "华申", "浦江", "申通", "东方", "海纳", "星辰", "金桥", "云帆", "锦程",
    "汇智", "明德", "润泽", "恒信", "新源", "鼎盛", "启航", "长风", "瑞丰",
)
_INDUSTRIES = (
    "信息科技", "贸易", "餐饮管理", "物流", "建筑工程", "医疗器械",
    "文化传媒", "电子商务", "物业管理", "精密机械", "生物医药", "人力资源",
)
_SHOPS = ("面馆", "水果店", "便利店", "理发店", "小吃店", "五金店")
_INSTITUTIONS = (
    "中心医院", "图书馆", "第一中学", "社区卫生服务中心", "疾病预防控制中心", "文化馆",
)
_ASSOCIATIONS = (
    "软件行业协会", "餐饮烹饪行业协会", "物流协会", "养老服务行业协会", "青少年发展促进会",
)
_COOPERATIVES = ("翠冠梨", "水稻", "蔬菜", "蟹业", "茭白")
# fmt: on


@dataclass(frozen=True)
class EmployerPlan:
    name: str
    uscc: str
    kind: str
    district: str
    address: str


@dataclass(frozen=True)
class PersonPlan:
    """One demo person: identity, contact, how they are insured, and their registry record."""

    name: str
    id_type: str
    id_number: str
    sex: str
    birth_date: datetime.date
    nationality: str
    shanghai_hukou: bool
    hukou_place: str
    phone: str
    address: str
    # "employer", "individual" or "" (not insured).
    insured: str = ""
    employer_index: int = 0
    employment_start: datetime.date | None = None
    registered_on: datetime.date | None = None
    individual_start: datetime.date | None = None
    # A field the registry record deliberately differs in, or "".
    registry_difference: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.id_type, self.id_number)


def _org_code(rng: random.Random) -> str:
    """An organisation code (GB 11714): 8 digits and a check character."""
    body = "".join(rng.choice("0123456789") for _ in range(8))
    total = sum(int(c) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    check = 11 - total % 11
    return body + {10: "X", 11: "0"}.get(check, str(check))


def _uscc(rng: random.Random, kind: str, district: str) -> str:
    body = USCC_PREFIX[kind] + DISTRICT_REGION[district] + _org_code(rng)
    return body + uscc_number.calc_check_digit(body)


def _employer_name(rng: random.Random, kind: str, district: str) -> str:
    place = DISTRICT_ZH[district]
    if kind == EmployerKind.ENTERPRISE:
        return f"上海{rng.choice(_BRANDS)}{rng.choice(_INDUSTRIES)}有限公司"
    if kind == EmployerKind.INDIVIDUAL_BUSINESS:
        return f"{place}{rng.choice(SURNAMES)}记{rng.choice(_SHOPS)}"
    if kind == EmployerKind.PUBLIC_INSTITUTION:
        return f"上海市{place}{rng.choice(_INSTITUTIONS)}"
    if kind == EmployerKind.SOCIAL_ORGANIZATION:
        return f"上海市{place}{rng.choice(_ASSOCIATIONS)}"
    town = place.removesuffix("区").removesuffix("新")
    return f"上海{town}{rng.choice(_COOPERATIVES)}农民专业合作社"


def _street_address(rng: random.Random, district: str, *, home: bool) -> str:
    road = rng.choice(DISTRICT_ROADS[district])
    if not home:
        return f"上海市{DISTRICT_ZH[district]}{road}{rng.randint(1, 2000)}号"
    return (
        f"上海市{DISTRICT_ZH[district]}{road}{rng.randint(1, 1500)}弄{rng.randint(1, 60)}号"
        f"{rng.randint(1, 30)}{rng.randint(1, 4):02d}室"
    )


def plan_employers(rng: random.Random) -> list[EmployerPlan]:
    plans: list[EmployerPlan] = []
    names: set[str] = set()
    usccs: set[str] = set()
    for kind, count in EMPLOYER_KIND_COUNTS:
        made = 0
        while made < count:
            district = rng.choice(list(District))
            name = _employer_name(rng, kind, district)
            uscc = _uscc(rng, kind, district)
            if name in names or uscc in usccs:
                continue
            names.add(name)
            usccs.add(uscc)
            address = _street_address(rng, district, home=False)
            plans.append(EmployerPlan(name, uscc, kind, district, address))
            made += 1
    return plans


def _random_date(rng: random.Random, first: datetime.date, last: datetime.date) -> datetime.date:
    return first + datetime.timedelta(days=rng.randint(0, (last - first).days))


def _phone(rng: random.Random) -> str:
    return "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))


def _chinese_name(rng: random.Random, sex: str) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN_NAMES[sex])


def _passport_number(rng: random.Random, nationality: str) -> str:
    digits = "0123456789"
    letters = "ABCDEFGHJKLMNPRTUVWXYZ"

    def draw(alphabet: str, n: int) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    if nationality == "USA":
        return rng.choice("56") + draw(digits, 8)
    if nationality == "JPN":
        return "T" + rng.choice("KRZ") + draw(digits, 7)
    if nationality == "KOR":
        return "M" + draw(digits, 8)
    if nationality == "DEU":
        return "C" + draw("CFGHJKLMNPRTVWXYZ" + digits, 8)
    return draw(digits, 2) + draw(letters, 2) + draw(digits, 5)


def _years_after(day: datetime.date, years: int) -> datetime.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _plan_insurance(
    rng: random.Random, person: dict[str, Any], *, today: datetime.date, employer_count: int
) -> None:
    """How a person is insured (PRODUCT.md "People and eligibility"): through an employer,
    registered on time, late, not yet (still within 30 days) or overdue; or, with Shanghai
    household registration only, as an individual; or not at all."""
    adult = _years_after(person["birth_date"], 18)
    draw = rng.random()
    if person["shanghai_hukou"]:
        insured = "employer" if draw < 0.6 else "individual" if draw < 0.85 else ""
    elif person["id_type"] == IdDocumentType.RESIDENT_ID:
        insured = "employer" if draw < 0.85 else ""
    else:
        insured = "employer"
    person["insured"] = insured
    if insured == "individual":
        start = today - datetime.timedelta(days=rng.randint(30, 5000))
        person["individual_start"] = max(start, adult)
    elif insured == "employer":
        person["employer_index"] = rng.randrange(employer_count)
        kind = rng.random()
        if kind < 0.70:  # registered within the 30 days
            start = max(today - datetime.timedelta(days=rng.randint(60, 3650)), adult)
            registered = start + datetime.timedelta(days=rng.randint(0, 30))
        elif kind < 0.82:  # registered late
            start = max(today - datetime.timedelta(days=rng.randint(150, 2000)), adult)
            registered = start + datetime.timedelta(days=rng.randint(31, 120))
        elif kind < 0.94:  # overdue: the deadline passed with no registration
            start = max(today - datetime.timedelta(days=rng.randint(31, 240)), adult)
            registered = None
        else:  # not yet due
            start = today - datetime.timedelta(days=rng.randint(0, 25))
            registered = None
        person["employment_start"] = start
        person["registered_on"] = registered


def plan_people(
    rng: random.Random, *, today: datetime.date, employer_count: int
) -> tuple[list[PersonPlan], int]:
    """About 200 people with valid documents: Shanghai and other provinces' resident ID cards,
    passports, foreign permanent resident ID cards and HK/Macao/Taiwan residence permits. Returns
    them and how many drawn resident ID numbers applicants.identity refused (then drawn again)."""
    people: list[dict[str, Any]] = []
    seen: set[str] = set()
    refused = 0
    born_from, born_to = datetime.date(1960, 1, 1), datetime.date(2005, 12, 31)

    def resident(region: str, *, shanghai: bool, hukou_place: str, district: str) -> bool:
        nonlocal refused
        sex = rng.choice((Sex.MALE, Sex.FEMALE))
        birth = _random_date(rng, born_from, born_to)
        sequence = rng.randrange(500) * 2 + (1 if sex == Sex.MALE else 0)
        number = compose_resident_id(region, birth, sequence)
        name = _chinese_name(rng, sex)
        try:
            validate_identity_document(IdDocumentType.RESIDENT_ID, number)
        except ValidationError:
            refused += 1
            if refused > MAX_REFUSED_NUMBERS:
                raise RuntimeError(
                    "applicants.identity refuses most demo identity numbers: check the region "
                    "codes in demo/seed.py against it."
                ) from None
            return False
        if number in seen:
            return False
        seen.add(number)
        people.append(
            {
                "name": name,
                "id_type": IdDocumentType.RESIDENT_ID,
                "id_number": number,
                "sex": sex,
                "birth_date": birth,
                "nationality": "CHN",
                "shanghai_hukou": shanghai,
                "hukou_place": hukou_place,
                "phone": _phone(rng),
                "address": _street_address(rng, district, home=True),
            }
        )
        return True

    shanghai_regions = sorted(SHANGHAI_REGION_DISTRICT)
    made = 0
    while made < SHANGHAI_HUKOU_PEOPLE:
        region = rng.choice(shanghai_regions)
        district = SHANGHAI_REGION_DISTRICT[region]
        made += resident(
            region, shanghai=True, hukou_place="上海市" + DISTRICT_ZH[district], district=district
        )
    other_regions = sorted(OTHER_PROVINCE_REGIONS)
    made = 0
    while made < OTHER_PROVINCE_PEOPLE:
        region = rng.choice(other_regions)
        made += resident(
            region,
            shanghai=False,
            hukou_place=OTHER_PROVINCE_REGIONS[region],
            district=rng.choice(list(District)),
        )

    def other_document(id_type: str, number: str, name: str, sex: str, **extra: Any) -> None:
        facts = validate_identity_document(id_type, number)
        people.append(
            {
                "name": name,
                "id_type": id_type,
                "id_number": facts.number,
                "sex": sex,
                "birth_date": extra.pop("birth_date"),
                "nationality": extra.pop("nationality", "CHN"),
                "shanghai_hukou": False,
                "hukou_place": "",
                "phone": _phone(rng),
                "address": _street_address(rng, rng.choice(list(District)), home=True),
            }
        )

    for nationality, name, sex in PASSPORT_HOLDERS:
        birth = _random_date(rng, datetime.date(1965, 1, 1), datetime.date(2000, 12, 31))
        other_document(
            IdDocumentType.PASSPORT,
            _passport_number(rng, nationality),
            name,
            sex,
            birth_date=birth,
            nationality=nationality,
        )
    for nationality, prefix, name, sex in PERMANENT_RESIDENTS:
        birth = _random_date(rng, datetime.date(1965, 1, 1), datetime.date(2000, 12, 31))
        sequence = rng.randrange(500) * 2 + (1 if sex == Sex.MALE else 0)
        other_document(
            IdDocumentType.FOREIGN_PERMANENT_RESIDENT_ID,
            compose_resident_id(prefix, birth, sequence),
            name,
            sex,
            birth_date=birth,
            nationality=nationality,
        )
    for prefix, name, sex in HMT_PERMIT_HOLDERS:
        birth = _random_date(rng, datetime.date(1965, 1, 1), datetime.date(2000, 12, 31))
        sequence = rng.randrange(500) * 2 + (1 if sex == Sex.MALE else 0)
        other_document(
            IdDocumentType.HMT_RESIDENCE_PERMIT,
            compose_resident_id(prefix, birth, sequence),
            name,
            sex,
            birth_date=birth,
        )

    for person in people:
        _plan_insurance(rng, person, today=today, employer_count=employer_count)
    shanghai = [p for p in people if p["shanghai_hukou"]]
    for difference in REGISTRY_DIFFERENCES:
        candidates = [
            p
            for p in shanghai
            if not p.get("registry_difference")
            and (difference != "name" or p["name"][-1] in REGISTRY_HOMOPHONES)
        ]
        rng.choice(candidates)["registry_difference"] = difference
    return [PersonPlan(**person) for person in people], refused


def _registry_record(person: PersonPlan, rng: random.Random) -> RegistryRecord:
    name, hukou_place = person.name, person.hukou_place
    if person.registry_difference == "name":
        name = name[:-1] + REGISTRY_HOMOPHONES[name[-1]]
    elif person.registry_difference == "hukou_place":
        hukou_place = "上海市" + rng.choice(
            [zh for zh in DISTRICT_ZH.values() if "上海市" + zh != person.hukou_place]
        )
    return RegistryRecord(
        name=name,
        id_type=person.id_type,
        id_number=person.id_number,
        sex=person.sex,
        birth_date=person.birth_date,
        nationality=person.nationality,
        shanghai_hukou=person.shanghai_hukou,
        hukou_place=hukou_place,
        registered_address=person.address,
    )


# --- The steps ----------------------------------------------------------------------------


@dataclass
class DemoContext:
    """What the steps share: the password, today, and the rows earlier steps made or found."""

    password: str
    today: datetime.date
    stdout: TextIO | None = None
    banks: dict[str, PartnerBank] = field(default_factory=dict)
    points: dict[str, ServicePoint] = field(default_factory=dict)
    employers: list[Employer] = field(default_factory=list)
    people: list[PersonPlan] = field(default_factory=list)
    applicants: dict[tuple[str, str], Applicant] = field(default_factory=dict)
    _password_hash: str = ""

    def rng(self, step: str) -> random.Random:
        """A generator of its own per step, so that adding a step changes no other step's data."""
        return random.Random(f"{DEMO_SEED}:{step}")  # noqa: S311 (demo data, not secrets)

    def password_hash(self) -> str:
        # Hashed once for every demo user: a million PBKDF2 rounds per user would cost seconds.
        if not self._password_hash:
            self._password_hash = make_password(self.password)
        return self._password_hash

    def say(self, message: str) -> None:
        if self.stdout is not None:
            self.stdout.write(message + "\n")


def _seed_partner_banks(ctx: DemoContext) -> dict[str, int]:
    created = 0
    for bank in PARTNER_BANKS:
        obj, was_created = PartnerBank.objects.get_or_create(
            code=bank.code, defaults={"name_zh": bank.name_zh, "name_en": bank.name_en}
        )
        ctx.banks[bank.code] = obj
        created += was_created
    return {"partner_banks": created}


def _seed_service_points(ctx: DemoContext) -> dict[str, int]:
    created = 0
    for spec in SERVICE_POINTS:
        point, was_created = ServicePoint.objects.get_or_create(
            code=spec.code,
            defaults={
                "name": spec.name,
                "kind": spec.kind,
                "bank": ctx.banks[spec.bank_code] if spec.bank_code else None,
                "district": spec.district,
                "address": spec.address,
                "phone": spec.phone,
                "opening_hours": spec.opening_hours,
            },
        )
        ctx.points[spec.code] = point
        created += was_created
    return {"service_points": created}


def _seed_users(ctx: DemoContext) -> dict[str, int]:
    """Demo logins, all with the demo password and each with its own authenticator key
    (accounts.services.two_factor_enrol; `seed_demo` prints the keys); staff through
    agencies.services.staff_assign."""
    user_model = get_user_model()
    logins = demo_logins()
    users = {
        u.username: u for u in user_model.objects.filter(username__in=[x.username for x in logins])
    }
    staffed = set(Staff.objects.filter(user__in=users.values()).values_list("user_id", flat=True))
    created_users = created_staff = created_devices = 0
    for login in logins:
        user = users.get(login.username)
        if user is None:
            user = user_model(username=login.username, is_staff=True, is_superuser=login.superuser)
            user.password = ctx.password_hash()
            user.save()
            created_users += 1
        if login.role and user.pk not in staffed:
            point = ctx.points[login.point_code] if login.point_code else None
            staff_assign(user=user, role=login.role, service_point=point)
            created_staff += 1
        if two_factor_device(user) is None:
            two_factor_enrol(user=user)
            created_devices += 1
    return {"users": created_users, "staff": created_staff, "authenticators": created_devices}


def _seed_employers(ctx: DemoContext) -> dict[str, int]:
    plans = plan_employers(ctx.rng("employers"))
    existing = {e.uscc: e for e in Employer.objects.filter(uscc__in=[p.uscc for p in plans])}
    created = 0
    for plan in plans:
        employer = existing.get(plan.uscc)
        if employer is None:
            employer = applicant_services.employer_create(
                name=plan.name,
                uscc=plan.uscc,
                kind=plan.kind,
                district=plan.district,
                address=plan.address,
            )
            created += 1
        ctx.employers.append(employer)
    return {"employers": created}


def _seed_applicants(ctx: DemoContext) -> dict[str, int]:
    """The people. Each is validated and normalised as applicants.services.applicant_create
    does (Applicant.apply_identity_document), then inserted in one statement."""
    ctx.people, refused = plan_people(
        ctx.rng("people"), today=ctx.today, employer_count=len(ctx.employers)
    )
    if refused:
        ctx.say(f"  ({refused} drawn identity numbers refused by the validator, drawn again)")
    existing = {
        (a.id_type, a.id_number): a
        for a in Applicant.objects.filter(id_number__in=[p.id_number for p in ctx.people])
    }
    missing = []
    for person in ctx.people:
        applicant = existing.get(person.key)
        if applicant is None:
            applicant = Applicant(
                name=person.name,
                id_type=person.id_type,
                id_number=person.id_number,
                sex=person.sex,
                birth_date=person.birth_date,
                nationality=person.nationality,
                shanghai_hukou=person.shanghai_hukou,
                hukou_place=person.hukou_place,
                phone=person.phone,
                address=person.address,
            )
            applicant.apply_identity_document()
            missing.append(applicant)
        ctx.applicants[person.key] = applicant
    Applicant.objects.bulk_create(missing)
    return {"applicants": len(missing)}


def _seed_employments_and_enrolments(ctx: DemoContext) -> dict[str, int]:
    """Employments (registered on time, late, overdue or not yet due) and the five insurances
    they carry once registered; individual pension and medical insurance for Shanghai household
    registration only. Employments go through applicants.services (the 30-day deadline); every
    enrolment is checked against applicants.policy as enrolment_create does, then inserted in
    one statement: one service call per enrolment would cost seconds."""
    applicants = list(ctx.applicants.values())
    employments = {
        (e.applicant_id, e.employer_id): e
        for e in Employment.objects.filter(applicant__in=applicants)
    }
    created_employments = 0
    for person in ctx.people:
        if person.insured != "employer":
            continue
        applicant = ctx.applicants[person.key]
        employer = ctx.employers[person.employer_index]
        if (applicant.pk, employer.pk) in employments:
            continue
        employment = applicant_services.employment_create(
            applicant=applicant, employer=employer, start_date=person.employment_start
        )
        if person.registered_on:
            applicant_services.employment_register(
                employment=employment, registered_on=person.registered_on
            )
        employments[(applicant.pk, employer.pk)] = employment
        created_employments += 1

    enrolled = set(
        InsuranceEnrolment.objects.filter(applicant__in=applicants).values_list(
            "applicant_id", "insurance", "route"
        )
    )
    # The facts the policy looks at, with every person's employments and enrolments in 3 queries.
    people = Applicant.objects.filter(pk__in=[a.pk for a in applicants]).prefetch_related(
        "employments", "enrolments"
    )
    facts_of = {a.pk: a for a in people}
    rows: list[InsuranceEnrolment] = []
    for person in ctx.people:
        applicant = ctx.applicants[person.key]
        employment = None
        if person.insured == "individual":
            insurances, route = INDIVIDUAL_DEMO_INSURANCES, EnrolmentRoute.INDIVIDUAL
            start = person.individual_start
        elif person.insured == "employer":
            employment = employments[(applicant.pk, ctx.employers[person.employer_index].pk)]
            if not employment.registered_on:
                continue  # the employer has not registered the employee: not insured yet
            insurances, route = tuple(Insurance), EnrolmentRoute.EMPLOYER
            start = employment.start_date
        else:
            continue
        facts = person_facts(facts_of[applicant.pk], on=start)
        for insurance in insurances:
            if (applicant.pk, insurance, route) in enrolled:
                continue
            answer = enrolment_eligibility(facts, insurance, route)
            if not answer:  # the demo plan broke a rule: fail loudly, create nothing
                raise ApplicationError(
                    " ".join(r.message for r in answer.reasons),
                    code="not_eligible",
                    details=answer.as_details(),
                )
            rows.append(
                InsuranceEnrolment(
                    applicant=applicant,
                    insurance=insurance,
                    route=route,
                    employment=employment,
                    start_date=start,
                )
            )
    InsuranceEnrolment.objects.bulk_create(rows)
    return {"employments": created_employments, "enrolments": len(rows)}


def _seed_registry_records(ctx: DemoContext) -> dict[str, int]:
    """The municipal registry's record of every person; REGISTRY_DIFFERENCES of them differ from
    what the person will write on the form, so that verification has differences to show."""
    rng = ctx.rng("registry")
    records = [_registry_record(person, rng) for person in ctx.people]
    existing = set(
        RegistryRecord.objects.filter(id_number__in=[r.id_number for r in records]).values_list(
            "id_type", "id_number"
        )
    )
    missing = [r for r in records if (r.id_type, r.id_number) not in existing]
    for record in missing:
        record.apply_identity_document()  # what save() does, which bulk_create skips
    RegistryRecord.objects.bulk_create(missing)
    return {"registry_records": len(missing)}


def _seed_cards(ctx: DemoContext) -> dict[str, int]:
    """Cards in every lifecycle state, each made through the cards services (demo/cards.py)."""
    return seed_cards(
        applicants=list(ctx.applicants.values()),
        points=ctx.points,
        banks=ctx.banks,
        rng=ctx.rng("cards"),
    )


STEPS: tuple[tuple[str, Callable[[DemoContext], dict[str, int]]], ...] = (
    ("partner banks", _seed_partner_banks),
    ("service points", _seed_service_points),
    ("users and staff", _seed_users),
    ("employers", _seed_employers),
    ("applicants", _seed_applicants),
    ("employments and enrolments", _seed_employments_and_enrolments),
    ("municipal registry records", _seed_registry_records),
    ("cards", _seed_cards),
)


def seed_demo(*, password: str, stdout: TextIO | None = None) -> dict[str, int]:
    """Create whatever demo data is missing; return how many rows of each kind were created.

    Refused unless settings.SEED_DEMO_DATA (never in production: the logins share one password).
    """
    if not settings.SEED_DEMO_DATA:
        raise ImproperlyConfigured("Demo data is disabled here (settings.SEED_DEMO_DATA is off).")
    ctx = DemoContext(password=password, today=timezone.localdate(), stdout=stdout)
    counts: dict[str, int] = {}
    with transaction.atomic():
        for label, step in STEPS:
            started = time.monotonic()
            step_counts = step(ctx)
            counts.update(step_counts)
            created = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in step_counts.items())
            elapsed = time.monotonic() - started
            ctx.say(f"  {label:<28} {created or '-'} ({elapsed:.2f} s)")
    return counts
