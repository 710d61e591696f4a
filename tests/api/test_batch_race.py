"""A batch and a single call racing for the same new card number: the one that commits second
gets 409 `card_number_taken` for that card, never a 500; the batch's other items commit."""

import pytest

from cards.choices import CardStatus
from cards.models import Card
from tests.api.conftest import error_of
from tests.cards.conftest import card_number, eligible_person
from tests.locks import commit_once_waited_on, other_transaction

S = CardStatus
pytestmark = pytest.mark.django_db(transaction=True)


def _number_written_uncommitted(other, card: Card, number: str) -> None:
    """What `POST /cards/{id}/ready` writes, in the other connection, not yet committed: the
    number encrypted at rest and its blind index, which carries the uniqueness."""
    from django.db import connection

    stored = Card._meta.get_field("card_number").get_db_prep_save(number, connection)
    other.execute(
        "UPDATE cards_card SET status = 'ready_for_collection', card_number = %s, "
        "card_number_bidx = %s WHERE id = %s",
        [stored, Card.blind_index("card_number", number), card.pk],
    )


def test_batch_item_whose_number_another_call_committed_meanwhile_is_409_others_commit(
    api, card_in
):
    racing, single, ok = (card_in(S.VERIFIED, eligible_person()) for _ in range(3))
    number, ok_number = card_number(), card_number()
    with other_transaction() as other:
        _number_written_uncommitted(other, single, number)
        # The batch checks the number free (the other write is not committed), then its UPDATE
        # waits at the unique index for the other transaction, which commits meanwhile.
        committer = commit_once_waited_on(other)
        response = api.post(
            "/cards/ready",
            {
                "items": [
                    {"card": str(racing.public_id), "card_number": number},
                    {"card": str(ok.public_id), "card_number": ok_number},
                ]
            },
        )
        committer.join()
    assert response.status_code == 200, response.content
    body = response.json()
    assert [r["status"] for r in body["results"]] == [409, 200]
    error = body["results"][0]["error"]
    assert error["code"] == "card_number_taken"
    assert set(error["details"]) == {"card_number"}
    assert body["results"][1]["card"]["card_number"] == ok_number
    racing.refresh_from_db()
    ok.refresh_from_db()
    assert (racing.status, racing.card_number) == (S.VERIFIED, None)
    assert (ok.status, ok.card_number) == (S.READY_FOR_COLLECTION, ok_number)
    assert racing.transitions.count() == 2 and ok.transitions.count() == 3  # applied, verified


def test_single_call_whose_number_a_batch_committed_meanwhile_is_409(api, card_in):
    racing, batched = (card_in(S.VERIFIED, eligible_person()) for _ in range(2))
    number = card_number()
    with other_transaction() as other:
        _number_written_uncommitted(other, batched, number)
        committer = commit_once_waited_on(other)
        response = api.post(f"/cards/{racing.public_id}/ready", {"card_number": number})
        committer.join()
    assert response.status_code == 409, response.content
    assert error_of(response)["code"] == "card_number_taken"
    racing.refresh_from_db()
    assert (racing.status, racing.card_number) == (S.VERIFIED, None)
