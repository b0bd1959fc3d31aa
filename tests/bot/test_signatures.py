"""Our Twilio signature is the SDK's, byte for byte, for both algorithms."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from twilio.request_validator import HMAC_SHA1, HMAC_SHA256, RequestValidator

from bot.signatures import UnsupportedAlgorithm, algorithm_of, twilio_signature, twilio_signature_matches

URL = "https://dealbot.example.com/webhooks/twilio/sms"
fields = st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=200), max_size=25)


@given(token=st.text(min_size=1, max_size=40), form=fields, algorithm=st.sampled_from([HMAC_SHA1, HMAC_SHA256]))
def test_the_signature_is_the_sdks(token: str, form: dict[str, str], algorithm: str) -> None:
    expected = RequestValidator(token).compute_signature(URL, form, algorithm)
    assert twilio_signature(token, URL, form, algorithm) == expected


def test_a_real_looking_form_is_accepted_and_any_change_refused() -> None:
    form = {"MessageSid": "SM" + "0" * 32, "From": "+14165550123", "To": "+14165550100", "Body": "Yes 🙂 still selling"}
    signature = RequestValidator("token").compute_signature(URL, form)
    assert twilio_signature_matches("token", URL, form, signature)
    assert not twilio_signature_matches("other", URL, form, signature)
    assert not twilio_signature_matches("token", URL + "?x=1", form, signature)
    assert not twilio_signature_matches("token", URL, form | {"Body": "No"}, signature)
    assert not twilio_signature_matches("token", URL, form, "")
    assert not twilio_signature_matches("token", URL, form, signature, HMAC_SHA256), "the algorithm is signed too"


@pytest.mark.parametrize(
    ("header", "algorithm"),
    [
        (None, HMAC_SHA1),
        ("", HMAC_SHA1),
        ("key=webhooks_sharedkey_1", HMAC_SHA1),
        ("key=webhooks_sharedkey_1,algorithm=HMAC_SHA256", HMAC_SHA256),
        ("algorithm=hmac_sha256", HMAC_SHA256),
    ],
)
def test_the_settings_header_names_the_algorithm(header: str | None, algorithm: str) -> None:
    assert algorithm_of(header) == algorithm


def test_an_unknown_algorithm_fails_closed() -> None:
    with pytest.raises(UnsupportedAlgorithm):
        algorithm_of("key=k,algorithm=HMAC_MD5")
