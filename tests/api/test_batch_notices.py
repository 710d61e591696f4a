"""Every batch's card-center notices go out promptly: the re-drive a batch kicks after its
commit is coalesced with one already queued, never dropped (a second batch within the same
second used to wait for beat's re-drive, up to a minute)."""

import pytest

from cards.choices import CardStatus, TransitionName
from cards.models import CardCenterNotice
from config.celery import app as celery_app
from tests.cards.conftest import eligible_person

S = CardStatus
T = TransitionName
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def eager_celery():
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = False


def _hand_over(api, cards):
    items = [
        {
            "card": str(card.public_id),
            "id_number": card.applicant.id_number,
            "receipt_number": card.receipt_number_display,
        }
        for card in cards
    ]
    response = api.post("/cards/hand-over", {"items": items})
    assert response.json()["succeeded"] == len(cards), response.content


def test_two_batches_within_one_second_both_reach_the_card_center(api, card_in, eager_celery):
    first = [card_in(S.READY_FOR_COLLECTION, eligible_person()) for _ in range(2)]
    second = [card_in(S.READY_FOR_COLLECTION, eligible_person()) for _ in range(2)]
    _hand_over(api, first)
    _hand_over(api, second)  # at once: within the same second as the first batch's kick
    notices = CardCenterNotice.objects.filter(card__in=first + second, kind=T.HAND_OVER)
    assert notices.count() == 4
    assert not notices.filter(delivered_at__isnull=True).exists()
