"""Our Twilio signature is the SDK's, byte for byte."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from bot.signatures import twilio_signature, twilio_signature_matches

URL = "https://dealbot.example.com/webhooks/twilio/sms"
fields = st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=200), max_size=25)


@given(token=st.text(min_size=1, max_size=40), form=fields)
def test_the_signature_is_the_sdks(token: str, form: dict[str, str]) -> None:
    assert twilio_signature(token, URL, form) == RequestValidator(token).compute_signature(URL, form)


def test_a_real_looking_form_is_accepted_and_any_change_refused() -> None:
    form = {"MessageSid": "SM" + "0" * 32, "From": "+14165550123", "To": "+14165550100", "Body": "Yes 🙂 still selling"}
    signature = RequestValidator("token").compute_signature(URL, form)
    assert twilio_signature_matches("token", URL, form, signature)
    assert not twilio_signature_matches("other", URL, form, signature)
    assert not twilio_signature_matches("token", URL + "?x=1", form, signature)
    assert not twilio_signature_matches("token", URL, form | {"Body": "No"}, signature)
    assert not twilio_signature_matches("token", URL, form, "")
