"""OpenAPI links between the API's operations (drf-spectacular has no decorator for them): from
an application, a card or an event to the card, and from a card to what can be done to it next.
They say how the answers connect, and let a stateful test (schemathesis) follow them."""

from __future__ import annotations

# (operation, status) -> {link name: (target operation, parameter: runtime expression)}
_CARD_FROM_BODY = {"card_id": "$response.body#/id"}
_CARD_ACTIONS = {
    "GetCard": ("cards_retrieve", _CARD_FROM_BODY),
    "MarkReady": ("cards_ready", _CARD_FROM_BODY),
    "HandOver": ("cards_hand_over", _CARD_FROM_BODY),
    "Withdraw": ("cards_withdraw", _CARD_FROM_BODY),
}
LINKS: dict[tuple[str, str], dict[str, tuple[str, dict[str, str]]]] = {
    ("applications_create", "201"): _CARD_ACTIONS,
    ("cards_retrieve", "200"): _CARD_ACTIONS,
    ("cards_ready", "200"): {
        "GetCard": ("cards_retrieve", _CARD_FROM_BODY),
        "HandOver": ("cards_hand_over", _CARD_FROM_BODY),
        "Withdraw": ("cards_withdraw", _CARD_FROM_BODY),
    },
    ("cards_hand_over", "200"): {"GetCard": ("cards_retrieve", _CARD_FROM_BODY)},
    ("cards_withdraw", "200"): {"GetCard": ("cards_retrieve", _CARD_FROM_BODY)},
    ("cards_list", "200"): {
        "GetFirstCard": ("cards_retrieve", {"card_id": "$response.body#/results/0/id"}),
        "NextPage": ("cards_list", {"cursor": "$response.body#/next_cursor"}),
    },
    ("events_list", "200"): {
        "GetEventCard": ("cards_retrieve", {"card_id": "$response.body#/results/0/card"}),
        "NextEvents": ("events_list", {"after": "$response.body#/next_after"}),
    },
    # The online service platform's application and its card (cards/api/platform.py).
    ("platform_applications_create", "201"): {
        "GetCard": ("platform_cards_retrieve", _CARD_FROM_BODY),
    },
    # A sandbox test card and its next step (cards/api/sandbox.py).
    ("sandbox_cards_create", "201"): {
        "GetCard": ("sandbox_cards_retrieve", _CARD_FROM_BODY),
        "Advance": ("sandbox_cards_advance", _CARD_FROM_BODY),
    },
    ("sandbox_cards_advance", "200"): {
        "GetCard": ("sandbox_cards_retrieve", _CARD_FROM_BODY),
        "Advance": ("sandbox_cards_advance", _CARD_FROM_BODY),
    },
}


def add_links(result, generator, request, public):
    """drf-spectacular postprocessing hook: put LINKS into the responses."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if not isinstance(operation, dict):
                continue
            for (operation_id, status), links in LINKS.items():
                if operation.get("operationId") != operation_id:
                    continue
                response = operation.get("responses", {}).get(status)
                if response is None:
                    continue
                response["links"] = {
                    name: {"operationId": target, "parameters": dict(parameters)}
                    for name, (target, parameters) in links.items()
                }
    return result
