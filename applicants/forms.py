"""Forms of the counter for people: recording an insurance enrolment."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from applicants.choices import EnrolmentRoute, Insurance
from applicants.models import Applicant, Employment, InsuranceEnrolment
from applicants.services import enrolment_create


class EnrolmentForm(forms.Form):
    """One insurance, through one of the person's employments or as an individual; the policy
    (applicants/policy.py) decides, and its reasons are shown if it says no."""

    insurance = forms.ChoiceField(label=_("insurance"), choices=Insurance.choices)
    route = forms.ChoiceField(
        label=_("route"), choices=EnrolmentRoute.choices, widget=forms.RadioSelect
    )
    employment = forms.ModelChoiceField(
        label=_("employment"),
        queryset=Employment.objects.none(),
        required=False,
        help_text=_("Only for an enrolment through an employer."),
    )
    start_date = forms.DateField(label=_("start date"), initial=timezone.localdate)

    def __init__(self, *args, applicant: Applicant, actor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.applicant = applicant
        self.actor = actor
        self.fields["employment"].queryset = applicant.employments.select_related("employer")
        self.fields["employment"].label_from_instance = lambda e: f"{e.employer} ({e.start_date})"

    def save(self) -> InsuranceEnrolment:
        data = self.cleaned_data
        return enrolment_create(
            applicant=self.applicant,
            insurance=data["insurance"],
            route=data["route"],
            employment=data["employment"],
            start_date=data["start_date"],
            actor=self.actor,
        )
