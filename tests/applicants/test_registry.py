"""The registry adapter and the form-against-registry comparison (applicants/registry.py)."""

import datetime

import pytest

from applicants.choices import IdDocumentType, Sex
from applicants.identity import compose_resident_id
from applicants.registry import (
    COMPARED_FIELDS,
    FieldDifference,
    LocalTableRegistry,
    RegistryEntry,
    compare_with_registry,
    get_registry,
)
from tests.factories import RegistryRecordFactory

NUMBER = "11010519491231002X"  # a woman born 31 December 1949

ENTRY = RegistryEntry(
    id_type=IdDocumentType.RESIDENT_ID,
    id_number=NUMBER,
    name="Zhang Xiaoming",
    sex=Sex.FEMALE,
    birth_date=datetime.date(1949, 12, 31),
    nationality="CHN",
    shanghai_hukou=True,
    hukou_place="上海市徐汇区",
)

MATCHING_FORM = {
    "name": "Zhang Xiaoming",
    "sex": "female",
    "birth_date": datetime.date(1949, 12, 31),
    "nationality": "CHN",
    "shanghai_hukou": True,
    "hukou_place": "上海市徐汇区",
}


def full_width(text: str) -> str:
    """What an IME in full-width mode types: ASCII at U+FF01-U+FF5E, the ideographic space."""
    return "".join(
        "\u3000" if c == " " else chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text
    )


class StubExchangePlatform:
    """A stand-in for a real exchange-platform client, named in REGISTRY_BACKEND."""

    def lookup(self, id_type: str, id_number: str) -> RegistryEntry | None:
        return ENTRY if id_number == NUMBER else None


# --- lookup -------------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("typed", [NUMBER, "11010519491231002x", " 110105 19491231 002x "])
def test_local_table_lookup_finds_the_record_by_normalised_number(typed):
    RegistryRecordFactory(
        name="张小明",
        id_number=NUMBER,
        hukou_place="上海市徐汇区",
    )
    entry = LocalTableRegistry().lookup(IdDocumentType.RESIDENT_ID, typed)
    assert entry == RegistryEntry(
        id_type=IdDocumentType.RESIDENT_ID,
        id_number=NUMBER,
        name="张小明",
        sex=Sex.FEMALE,
        birth_date=datetime.date(1949, 12, 31),
        nationality="CHN",
        shanghai_hukou=True,
        hukou_place="上海市徐汇区",
    )


@pytest.mark.django_db
def test_local_table_lookup_miss():
    RegistryRecordFactory(id_number=NUMBER)
    registry = LocalTableRegistry()
    other = compose_resident_id("310104", datetime.date(1990, 5, 17), 123)
    assert registry.lookup(IdDocumentType.RESIDENT_ID, other) is None
    # the same number under another document type is another record
    assert registry.lookup(IdDocumentType.HMT_RESIDENCE_PERMIT, NUMBER) is None
    assert registry.lookup(IdDocumentType.RESIDENT_ID, "") is None


def test_get_registry_defaults_to_the_local_table():
    assert isinstance(get_registry(), LocalTableRegistry)


def test_get_registry_honours_the_setting(settings):
    settings.REGISTRY_BACKEND = "tests.applicants.test_registry.StubExchangePlatform"
    registry = get_registry()
    assert isinstance(registry, StubExchangePlatform)
    assert registry.lookup(IdDocumentType.RESIDENT_ID, NUMBER) == ENTRY


def test_get_registry_with_an_unknown_backend_fails_loudly(settings):
    settings.REGISTRY_BACKEND = "tests.applicants.test_registry.NoSuchBackend"
    with pytest.raises(ImportError):
        get_registry()


# --- comparison ---------------------------------------------------------------------------------


def test_matching_form_has_no_differences():
    assert compare_with_registry(MATCHING_FORM, ENTRY) == []


@pytest.mark.parametrize(
    ("field", "typed"),
    [
        ("name", "zhang xiaoming"),  # case
        ("name", "  Zhang   Xiaoming "),  # spaces
        (
            "name",
            full_width("ZHANG XIAOMING"),
        ),  # full-width letters and space
        ("nationality", "chn"),
        ("sex", "FEMALE"),
        ("hukou_place", " 上海市徐汇区 "),
    ],
)
def test_case_full_width_and_whitespace_differences_are_ignored(field, typed):
    assert compare_with_registry(MATCHING_FORM | {field: typed}, ENTRY) == []


def test_every_differing_field_is_listed_with_form_and_registry_values():
    form = {
        "name": "Zhang Xiaohong",
        "sex": "male",
        "birth_date": datetime.date(1950, 1, 1),
        "nationality": "CHN",
        "shanghai_hukou": False,
        "hukou_place": "江苏省南京市",
    }
    differences = compare_with_registry(form, ENTRY)
    assert [d.field for d in differences] == [
        "name",
        "sex",
        "birth_date",
        "shanghai_hukou",
        "hukou_place",
    ]
    assert [d.as_dict() for d in differences] == [
        {"field": "name", "form": "Zhang Xiaohong", "registry": "Zhang Xiaoming"},
        {"field": "sex", "form": "male", "registry": "female"},
        {"field": "birth_date", "form": "1950-01-01", "registry": "1949-12-31"},
        {"field": "shanghai_hukou", "form": "False", "registry": "True"},
        {"field": "hukou_place", "form": "江苏省南京市", "registry": "上海市徐汇区"},
    ]
    assert differences[2] == FieldDifference(
        "birth_date", datetime.date(1950, 1, 1), datetime.date(1949, 12, 31)
    )


def test_order_is_fixed_whatever_the_form_order():
    form = {"hukou_place": "北京", "name": "Li Lei"}
    assert [d.field for d in compare_with_registry(form, ENTRY)] == ["name", "hukou_place"]


def test_fields_missing_from_the_form_and_other_fields_are_not_compared():
    form = {"name": "Zhang Xiaoming", "phone": "13800138000", "id_number": "whatever"}
    assert compare_with_registry(form, ENTRY) == []
    assert set(COMPARED_FIELDS) == {
        "name",
        "sex",
        "birth_date",
        "nationality",
        "shanghai_hukou",
        "hukou_place",
    }


def test_missing_value_on_either_side_is_a_difference_shown_as_blank():
    entry = RegistryEntry(**{**ENTRY.__dict__, "birth_date": None, "hukou_place": ""})
    differences = compare_with_registry(MATCHING_FORM, entry)
    assert [d.as_dict() for d in differences] == [
        {"field": "birth_date", "form": "1949-12-31", "registry": ""},
        {"field": "hukou_place", "form": "上海市徐汇区", "registry": ""},
    ]


@pytest.mark.django_db
def test_form_checked_against_the_local_registry_record():
    RegistryRecordFactory(name="张小明", id_number=NUMBER, hukou_place="上海市徐汇区")
    entry = get_registry().lookup(IdDocumentType.RESIDENT_ID, NUMBER.lower())
    form = MATCHING_FORM | {"name": "张晓明"}
    assert [d.as_dict() for d in compare_with_registry(form, entry)] == [
        {"field": "name", "form": "张晓明", "registry": "张小明"}
    ]


# --- the exchange platform over HTTP (HttpRegistry) ----------------------------------------------


def test_http_registry_reads_a_record_and_a_missing_person():
    from applicants.registry import HttpRegistry
    from tests.registry_server import answering_registry

    record = {
        "id_type": IdDocumentType.RESIDENT_ID,
        "id_number": NUMBER,
        "name": "Zhang Xiaoming",
        "sex": Sex.FEMALE,
        "birth_date": "1949-12-31",
        "nationality": "CHN",
        "shanghai_hukou": True,
        "hukou_place": "上海市徐汇区",
    }
    with answering_registry({NUMBER: record}) as url:
        registry = HttpRegistry(base_url=url, timeout=2)
        assert registry.lookup(IdDocumentType.RESIDENT_ID, "11010519491231002x") == ENTRY
        assert (
            registry.lookup(
                IdDocumentType.RESIDENT_ID,
                compose_resident_id("310104", datetime.date(1990, 1, 1), 11),
            )
            is None
        )


@pytest.mark.parametrize("server", ["hanging", "closed", "error"])
def test_http_registry_out_raises_registry_unavailable_within_its_timeout(server):
    import contextlib
    import time

    from applicants.registry import HttpRegistry, RegistryUnavailable
    from tests import registry_server

    if server == "hanging":
        context = registry_server.hanging_registry()
    elif server == "error":
        context = registry_server.answering_registry({NUMBER: {"x": 1}}, status=502)
    else:
        context = contextlib.nullcontext(f"http://127.0.0.1:{registry_server.CLOSED_PORT}")
    with context as url:
        started = time.monotonic()
        with pytest.raises(RegistryUnavailable):
            HttpRegistry(base_url=url, timeout=0.5).lookup(IdDocumentType.RESIDENT_ID, NUMBER)
        assert time.monotonic() - started < 2
