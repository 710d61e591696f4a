"""Masking of personal information (PIPL): what lists, logs and the public page show."""

import pytest

from common.masking import mask_address, mask_id_number, mask_name, mask_phone


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("11010519491231002X", "110***********002X"),
        ("USA310905171234", "USA********1234"),
        ("E12345678", "E12**5678"),
        ("12345678", "123*5678"),
        ("1234567", "1******"),
        ("E1", "E*"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_id_number(value, masked):
    assert mask_id_number(value) == masked
    if value:
        assert len(masked) == len(value)


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("张三", "张*"),
        ("张小明", "张**"),
        ("欧阳小明", "欧***"),
        ("张", "*"),
        (" 张小明 ", "张**"),
        ("John Smith", "J*** S****"),
        ("John  Ronald   Smith", "J*** R***** S****"),
        ("Li", "L*"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_name(value, masked):
    assert mask_name(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("13800138000", "138****8000"),
        ("+8613800138000", "+86*******8000"),
        ("02164370000", "021****0000"),
        ("12345678", "123*5678"),
        ("1234567", "*******"),
        ("12333", "*****"),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_phone(value, masked):
    assert mask_phone(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("上海市徐汇区漕溪北路1号", "上海市徐汇区******"),
        ("上海市徐汇区漕", "上海市徐汇区*"),
        ("上海市徐汇区", "******"),
        ("徐汇区", "***"),
        # however long the rest, at most 10 stars: the length is personal information too
        ("上海市浦东新区世纪大道100号上海环球金融中心79层7901室", "上海市浦东新" + "*" * 10),
        ("", ""),
        (None, ""),
    ],
)
def test_mask_address(value, masked):
    assert mask_address(value) == masked


@pytest.mark.parametrize(
    ("mask", "value", "secret"),
    [
        (mask_id_number, "310104199005171234", "19900517"),
        (mask_phone, "13800138000", "0013"),
        (mask_address, "上海市徐汇区漕溪北路1号", "漕溪北路"),
        (mask_name, "张小明", "小明"),
    ],
)
def test_the_secret_part_never_shows(mask, value, secret):
    assert secret not in mask(value)
