"""The privacy notice of PIPL arts. 17 and 35 on the public status page and the printed receipt."""

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from agencies.roles import group_name
from tests.cards.conftest import eligible_person, submit
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db

ZH = (
    "个人信息处理说明",
    "上海市人力资源和社会保障局",
    "保存期限",
    "第四十四条至第四十八条",
    "12333",
)
EN = (
    "How your personal information is used",
    "Human Resources and Social Security Bureau",
    "How long:",
    "PIPL arts. 44–48",
    "12333",
)


@pytest.mark.parametrize(("language", "words"), [("zh-hans", ZH), ("en", EN)])
def test_the_status_page_carries_the_notice_in_its_language(language, words):
    client = Client()
    client.cookies["django_language"] = language
    page = client.get("/status/").content.decode()
    for word in words:
        assert word in page
    assert 'id="privacy"' in page


def test_the_printed_receipt_carries_the_notice_in_both_languages(world):
    card = submit(world, eligible_person())
    world.clerk.user.groups.add(Group.objects.get(name=group_name(world.clerk.role)))
    client = staff_login(Client(), world.clerk.user)
    receipt = client.get(f"/admin/cards/card/{card.pk}/receipt/").content.decode()
    for word in (*ZH, *EN):
        assert (
            word.removesuffix(":").replace("保存期限", "保管期限").replace("How long", "retention")
            in receipt
        )
