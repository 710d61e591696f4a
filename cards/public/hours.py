"""Opening hours as the service points write them (周一至周五 9:00-17:00，周六 9:00-12:00), in the
language of the page: the English status page says Mon–Fri 9:00-17:00; Sat 9:00-12:00."""

from __future__ import annotations

import re

from django.utils.translation import get_language

_DAYS = {"一": "Mon", "二": "Tue", "三": "Wed", "四": "Thu", "五": "Fri", "六": "Sat", "日": "Sun"}
_DAYS["天"] = "Sun"
_WORDS = (
    ("法定节假日", "public holidays"),
    ("节假日", "public holidays"),
    ("休息", "closed"),
    ("全天", "all day"),
    ("上午", "mornings"),
    ("下午", "afternoons"),
    ("每天", "daily"),
    ("工作日", "working days"),
    ("除外", "excepted"),
)
_DAY = re.compile(r"(?:周|星期)([一二三四五六日天])")
_PUNCTUATION = str.maketrans(
    {"，": "; ", "、": ", ", "；": "; ", "：": ": ", "（": " (", "）": ")"}
)


def opening_hours_in_english(text: str) -> str:
    """The hours with the days and the common words in English; digits and times unchanged."""
    english = _DAY.sub(lambda m: _DAYS[m.group(1)], text or "")
    english = re.sub(r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\s*至\s*", r"\1–", english)
    for chinese, words in _WORDS:
        english = english.replace(chinese, f" {words} ")
    english = english.translate(_PUNCTUATION)
    english = re.sub(r"\s+", " ", english).replace("( ", "(").replace(" )", ")")
    return english.replace(" ;", ";").strip()


def opening_hours_for_page(text: str) -> str:
    """The hours in the active language: as written on a Chinese page, in English otherwise."""
    if (get_language() or "zh-hans").startswith("zh"):
        return text
    return opening_hours_in_english(text)
