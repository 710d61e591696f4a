"""The clerk admin's tests share the lifecycle's small world (tests/cards/conftest.py), with each
staff member in the group of their role, as agencies.services.staff_assign would put them."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from agencies.roles import group_name
from cards import services
from cards.actors import Actor
from cards.choices import CardType
from cards.models import Card
from tests.cards.conftest import (  # noqa: F401 - fixtures
    World,
    bring_to,
    card_in,
    card_number,
    eligible_person,
    person,
    submit,
    world,
)
from tests.conftest import staff_login


def login(actor: Actor) -> Client:
    user = actor.user
    user.groups.add(Group.objects.get(name=group_name(actor.role)))
    client = Client(headers={"accept-language": "en"})  # the tests read the English messages
    return staff_login(client, user)


@pytest.fixture
def clients(world):  # noqa: F811 - the fixture imported above
    """A logged-in client per staff member of the world."""

    class Clients:
        clerk = login(world.clerk)
        supervisor = login(world.supervisor)
        other_clerk = login(world.other_clerk)
        street_medical_clerk = login(world.street_medical_clerk)
        county_clerk = login(world.county_clerk)
        outlet_clerk = login(world.outlet_clerk)
        hotline = login(world.hotline_operator)

    return Clients


def submit_at_other_point(world: World, applicant, card_type=CardType.SOCIAL_SECURITY) -> Card:  # noqa: F811
    """An application taken at the other community center (point B)."""
    return services.card_submit(
        applicant=applicant,
        card_type=card_type,
        actor=world.other_clerk,
        bank=world.bank,
        collection_point=world.outlet,
    )
