"""The lookup form. It never reports which field is wrong: every mismatch, malformed input
included, gets the same answer (cards/public/lookup.py), so it has no validation messages. The
template (cards/jinja2/status/lookup.html) writes the two inputs out itself from `form_fields`,
cheaper than bound fields and widget templates on this hot page."""

from __future__ import annotations

from dataclasses import dataclass

from django import forms
from django.utils.translation import gettext_lazy as _

from cards.numbers import format_receipt_number, is_valid_receipt_number, normalise_receipt_number

# Generous: people type spaces and dashes; the lookup normalises.
ID_NUMBER_MAX_LENGTH = 40
RECEIPT_NUMBER_MAX_LENGTH = 32


class StatusLookupForm(forms.Form):
    id_number = forms.CharField(
        label=_("ID document number"),
        max_length=ID_NUMBER_MAX_LENGTH,
        help_text=_(
            "Resident identity card: 18 characters. Otherwise the number of the document you "
            "applied with (passport, permanent resident ID, residence permit)."
        ),
    )
    receipt_number = forms.CharField(
        label=_("Receipt number"),
        max_length=RECEIPT_NUMBER_MAX_LENGTH,
        help_text=_(
            "Printed on your application receipt, for example K7QM-3X9T-PW2R-H. "
            "The dashes can be left out."
        ),
    )


def receipt_from_query(value: str | None) -> str:
    """The receipt number a printed QR code carries (/status/?receipt_number=...), formatted for
    the field; anything that is not a valid receipt number is ignored, never echoed."""
    value = normalise_receipt_number((value or "")[:RECEIPT_NUMBER_MAX_LENGTH])
    return format_receipt_number(value) if is_valid_receipt_number(value) else ""


@dataclass(frozen=True)
class FormField:
    """What the template needs to write one input: nothing typed is ever echoed, only `value`
    (a QR code's receipt number)."""

    name: str
    label: str
    help_text: str
    max_length: int
    value: str = ""


def form_fields(**values: str) -> list[FormField]:
    """The form's inputs in order, labels in the active language, with any `values` to show."""
    return [
        FormField(
            name=name,
            label=str(field.label),
            help_text=str(field.help_text),
            max_length=field.max_length,
            value=values.get(name, ""),
        )
        for name, field in StatusLookupForm.base_fields.items()
    ]
