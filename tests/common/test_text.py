"""common.text.visible_text: a required text made of invisible characters is empty."""

import pytest

from common.text import visible_text


@pytest.mark.parametrize(
    "typed, left",
    [
        ("  lost  ", "lost"),
        ("\u200b", ""),
        ("\u200b\u200e\ufeff \u3000", ""),
        ("\u200blost\u200f", "lost"),
        ("持卡人\u200b死亡", "持卡人\u200b死亡"),  # inside the text: kept as typed
        ("", ""),
    ],
)
def test_visible_text_strips_white_space_and_invisible_characters_at_the_ends(typed, left):
    assert visible_text(typed) == left
