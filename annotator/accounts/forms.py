"""Forms of the account pages. They validate input; services.py writes."""

from __future__ import annotations

from django import forms

from annotator.projects.models import Role


class NewPersonForm(forms.Form):
    """A person a manager adds: an account made now (password shown once) or an invitation link."""

    HOW = (("invite", "Send an invitation link"), ("account", "Make the account now"))

    username = forms.CharField(max_length=150)
    full_name = forms.CharField(max_length=150, required=False, label="Full name")
    email = forms.EmailField(required=False, label="E-mail")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.ANNOTATOR)
    how = forms.ChoiceField(choices=HOW, initial="invite", widget=forms.RadioSelect)


class AcceptInvitationForm(forms.Form):
    password1 = forms.CharField(label="Password", strip=False, widget=forms.PasswordInput)
    password2 = forms.CharField(label="The password again", strip=False, widget=forms.PasswordInput)

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("password1") and data.get("password1") != data.get("password2"):
            self.add_error("password2", "The two passwords differ.")
        return data


class ActiveForm(forms.Form):
    active = forms.TypedChoiceField(choices=(("1", "active"), ("0", "inactive")), coerce=lambda v: v == "1")
