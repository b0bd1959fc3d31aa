"""bot.templates: SMS segment arithmetic, the shipped templates, the sandbox, the check."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.templates import (
    MARKETING_SMS,
    OPT_OUT_NOTICE,
    SAMPLE_VARS,
    Encoding,
    Segments,
    TemplateError,
    Templates,
    _tidy,
    _tidy_lines,
    first_name,
    money,
    sms_segments,
)

SMS_NAMES = {
    "seller_ask_interest",
    "seller_confirm_price",
    "seller_hold",
    "seller_offer_reminder",
    "seller_anything_else",
    "seller_intro",
    "seller_followup_1",
    "seller_followup_2",
    "seller_followup_3",
    "seller_nurture",
    "seller_ask_condition",
    "seller_ask_timeline",
    "seller_ask_price",
    "seller_offer",
    "seller_counter",
    "seller_final_offer",
    "seller_accepted",
    "seller_help",
    "seller_optout_confirm",
    "seller_optin_confirm",
    "seller_wrong_number",
    "seller_not_interested",
    "seller_handoff",
    "seller_ack",
    "buyer_deal_alert",
}
EMAIL_NAMES = {
    "seller_email_intro", "seller_email_followup", "seller_offer", "seller_optout_confirm", "seller_help", "buyer_deal_alert"
}
# Every template that starts or restarts contact must carry the opt-out notice.
MUST_OPT_OUT = {
    "seller_intro",
    "seller_followup_1",
    "seller_followup_2",
    "seller_followup_3",
    "seller_nurture",
    "buyer_deal_alert",
}

# The least a caller may know: no name, no city, no buyers, no optional numbers.
SPARSE_VARS: Mapping[str, object] = {
    **SAMPLE_VARS,
    "seller_name": "",
    "city": "",
    "liquidity_buyers": 0,
    "asking_price": None,
    "arv": None,
    "repair_estimate": None,
    "property_type": None,
    "bedrooms": None,
    "bathrooms": None,
    "sqft": None,
    "condition": None,
}


@pytest.fixture(scope="module")
def templates() -> Templates:
    return Templates()


def make_root(tmp_path: Path, files: Mapping[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def one_sms(tmp_path: Path, source: str) -> Templates:
    return Templates(make_root(tmp_path, {"sms/probe.txt.j2": source}))


# --- segments -----------------------------------------------------------------------------

GSM7, UCS2 = Encoding.GSM7, Encoding.UCS2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Segments(GSM7, 0, 0)),
        ("a", Segments(GSM7, 1, 1)),
        ("a" * 160, Segments(GSM7, 1, 160)),
        ("a" * 161, Segments(GSM7, 2, 161)),
        ("a" * 306, Segments(GSM7, 2, 306)),
        ("a" * 307, Segments(GSM7, 3, 307)),
        ("€", Segments(GSM7, 1, 2)),
        ("{", Segments(GSM7, 1, 2)),
        ("{" * 80, Segments(GSM7, 1, 160)),
        ("a" * 159 + "€", Segments(GSM7, 2, 161)),
        # The escape pair at position 153 would straddle two segments: it moves on whole.
        ("a" * 152 + "€" + "a" * 152, Segments(GSM7, 3, 306)),
        ("a" * 151 + "€" + "a" * 153, Segments(GSM7, 2, 306)),
        ("£$¥èéùìòÇØøÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ¤¡ÄÖÑÜ§¿äöñüà\n\r", Segments(GSM7, 1, 43)),
        ("^{}\\[~]|€\f", Segments(GSM7, 1, 20)),
        ("ê", Segments(UCS2, 1, 1)),
        ("’", Segments(UCS2, 1, 1)),
        ("ж" * 70, Segments(UCS2, 1, 70)),
        ("ж" * 71, Segments(UCS2, 2, 71)),
        ("ж" * 134, Segments(UCS2, 2, 134)),
        ("ж" * 135, Segments(UCS2, 3, 135)),
        ("a" * 159 + "☺", Segments(UCS2, 3, 160)),  # one BMP symbol flips 160 chars to UCS-2
        ("😀", Segments(UCS2, 1, 2)),  # outside the BMP: a surrogate pair
        ("a" * 68 + "😀", Segments(UCS2, 1, 70)),
        ("a" * 69 + "😀", Segments(UCS2, 2, 71)),
        # A surrogate pair is never split: 66 + 2 does not fit in the first 67.
        ("a" * 66 + "😀" + "a" * 66, Segments(UCS2, 3, 134)),
    ],
)
def test_sms_segments(text: str, expected: Segments) -> None:
    assert sms_segments(text) == expected


@given(st.text(alphabet=st.sampled_from("aZ0 {€é\nж😀"), max_size=700))
def test_segments_bound_the_units(text: str) -> None:
    result = sms_segments(text)
    if result.encoding is Encoding.GSM7:
        assert all(ch not in text for ch in "ж😀")
        single, per = 160, 153
        assert result.units == len(text) + sum(text.count(ch) for ch in "{€")
    else:
        single, per = 70, 67
        assert result.units == len(text.encode("utf-16-le")) // 2
    if result.units == 0:
        assert result.segments == 0
    elif result.units <= single:
        assert result.segments == 1
    else:
        # Exact packing needs at least the naive count, and wastes at most one unit a segment.
        assert result.segments >= math.ceil(result.units / per)
        assert result.segments <= math.ceil(result.units / (per - 1))


# --- filters ------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (425_000, "$425,000"),
        (0, "$0"),
        (999, "$999"),
        (1_000_000, "$1,000,000"),
        (-5_000, "-$5,000"),
    ],
)
def test_money(amount: int, text: str) -> None:
    assert money(amount) == text


@pytest.mark.parametrize("amount", [None, 425000.0, "425000", True])
def test_money_refuses_what_is_not_whole_units(amount: object) -> None:
    with pytest.raises(TypeError):
        money(amount)


@pytest.mark.parametrize(
    ("full", "first"),
    [
        ("Jane Smith", "Jane"),
        ("Jane Q. Smith", "Jane"),
        ("  jane   smith ", "Jane"),
        ("JOHN SMITH", "John"),
        ("jean-paul tremblay", "Jean-Paul"),
        ("McKay Smith", "McKay"),
        ("Mr. John Smith", "John"),
        ("Dr Smith", "Dr Smith"),
        ("Cher", "Cher"),
        ("", ""),
        ("   ", ""),
    ],
)
def test_first_name(full: str, first: str) -> None:
    assert first_name(full) == first


# --- the shipped set ----------------------------------------------------------------------

def test_ships_the_names_other_modules_use(templates: Templates) -> None:
    assert set(templates.sms_names()) == SMS_NAMES
    assert set(templates.email_names()) == EMAIL_NAMES
    assert all(templates.has_sms(name) for name in SMS_NAMES)
    assert all(templates.has_email(name) for name in EMAIL_NAMES)
    assert not templates.has_sms("seller_email_intro")
    assert not templates.has_email("seller_intro")


@pytest.mark.parametrize("name", ["nope", "_optout", "../sms/seller_intro", "sms/seller_intro", ""])
def test_unknown_names(templates: Templates, name: str) -> None:
    assert not templates.has_sms(name)
    with pytest.raises(TemplateError, match="unknown sms template"):
        templates.render_sms(name, SAMPLE_VARS)
    with pytest.raises(TemplateError, match="unknown email template"):
        templates.render_email(name, SAMPLE_VARS)


def test_default_root_is_the_templates_package(templates: Templates) -> None:
    checkout = Path(__file__).parents[2] / "templates"
    assert Templates(checkout).render_sms("seller_intro", SAMPLE_VARS) == templates.render_sms(
        "seller_intro", SAMPLE_VARS
    )


@pytest.mark.parametrize("variables", [SAMPLE_VARS, SPARSE_VARS], ids=["sample", "sparse"])
@pytest.mark.parametrize("name", sorted(SMS_NAMES))
def test_every_sms_renders_as_clean_gsm7(
    templates: Templates, name: str, variables: Mapping[str, object]
) -> None:
    body = templates.render_sms(name, variables)
    assert body
    assert sms_segments(body).encoding is Encoding.GSM7
    for blemish in ("None", "  ", " ,", " .", "in .", "{{", "{%", "Hi ,", ", ,"):
        assert blemish not in body
    assert body == body.strip()


@pytest.mark.parametrize("name", sorted(MUST_OPT_OUT | MARKETING_SMS))
def test_marketing_sms_names_the_sender_and_says_stop(templates: Templates, name: str) -> None:
    body = templates.render_sms(name, {**SAMPLE_VARS, "company": "Lakeview Cash Offers"})
    assert "Lakeview Cash Offers" in body
    assert "STOP" in body
    assert OPT_OUT_NOTICE in body


def test_intro_is_at_most_two_segments(templates: Templates) -> None:
    assert sms_segments(templates.render_sms("seller_intro", SAMPLE_VARS)).segments <= 2


def test_greeting_reads_fine_without_a_name(templates: Templates) -> None:
    assert templates.render_sms("seller_intro", SPARSE_VARS).startswith("Hi there, this is Sam")
    assert templates.render_sms("seller_intro", SAMPLE_VARS).startswith("Hi Jane, this is Sam")
    assert templates.render_sms("seller_ack", SPARSE_VARS) == "Thanks, got it."
    assert templates.render_sms("seller_ack", SAMPLE_VARS) == "Thanks, Jane, got it."


@pytest.mark.parametrize(
    ("buyers", "says"),
    [
        (0, None),
        (1, "We have 1 active buyer in your area."),
        (12, "We have 12 active buyers in your area."),
    ],
)
def test_intro_mentions_buyers_only_when_there_are_some(
    templates: Templates, buyers: int, says: str | None
) -> None:
    body = templates.render_sms("seller_intro", {**SAMPLE_VARS, "liquidity_buyers": buyers})
    if says is None:
        assert "buyer" not in body
    else:
        assert says in body


def test_offer_and_counter_amounts(templates: Templates) -> None:
    offer = templates.render_sms("seller_offer", {**SAMPLE_VARS, "offer": 310_000})
    assert "$310,000" in offer
    counter = templates.render_sms(
        "seller_counter", {**SAMPLE_VARS, "previous_offer": 300_000, "offer": 315_000}
    )
    assert "from $300,000 to $315,000" in counter
    assert "most we can do" not in counter
    final = templates.render_sms("seller_counter", {**SAMPLE_VARS, "final": True})
    assert "most we can do" in final
    accepted = templates.render_sms("seller_accepted", {**SAMPLE_VARS, "accepted_price": 333_000})
    assert "$333,000" in accepted


def test_ask_price_uses_the_asking_price_when_known(templates: Templates) -> None:
    assert "$475,000" in templates.render_sms("seller_ask_price", SAMPLE_VARS)
    assert "What price" in templates.render_sms("seller_ask_price", SPARSE_VARS)


def test_buyer_alert_leaves_out_unknown_facts(templates: Templates) -> None:
    full = templates.render_email("buyer_deal_alert", SAMPLE_VARS)
    assert "ARV: $650,000" in full.text
    assert "Repair estimate: $60,000" in full.text
    assert ">ARV<" in full.html
    sparse = templates.render_email("buyer_deal_alert", SPARSE_VARS)
    for fact in ("ARV", "Repair", "Bedrooms", "Size", "Condition", "None"):
        assert fact not in sparse.text
        assert fact not in sparse.html
    assert "Price: $455,000" in sparse.text
    assert "\n\n\n" not in sparse.text


@pytest.mark.parametrize("variables", [SAMPLE_VARS, SPARSE_VARS], ids=["sample", "sparse"])
@pytest.mark.parametrize("name", sorted(EMAIL_NAMES))
def test_every_email_renders(
    templates: Templates, name: str, variables: Mapping[str, object]
) -> None:
    email = templates.render_email(name, variables)
    assert email.subject
    assert "\n" not in email.subject
    assert "None" not in email.subject + email.text + email.html
    # CAN-SPAM/CASL: the sender and a working way out, in both parts.
    for part in (email.text, email.html):
        assert str(SAMPLE_VARS["unsubscribe_url"]) in part
        assert str(SAMPLE_VARS["company"]) in part
    assert email.html.startswith("<!DOCTYPE html>")


def test_html_email_escapes_what_the_text_email_keeps(templates: Templates) -> None:
    hostile = {
        **SAMPLE_VARS,
        "seller_name": "<script>alert(1)</script>",
        "address": '12 "Elm" St <b>',
    }
    email = templates.render_email("seller_offer", hostile)
    assert "<script>" not in email.html.lower()
    assert "&lt;script&gt;" in email.html.lower()
    assert "&lt;b&gt;" in email.html
    assert "<b>" in email.text  # plain text needs no escaping, and must not be mangled
    alert = templates.render_email("buyer_deal_alert", hostile)
    assert "<b>" not in alert.html
    assert "&lt;b&gt;" in alert.html


def test_subject_is_one_line_whatever_the_values(templates: Templates) -> None:
    # A CR/LF in a header value would let a value inject headers.
    email = templates.render_email(
        "seller_email_intro", {**SAMPLE_VARS, "address": "12 Elm\r\nBcc: x@example.com"}
    )
    assert email.subject == "A cash offer for 12 Elm Bcc: x@example.com?"


def test_values_are_data_never_templates(templates: Templates) -> None:
    body = templates.render_sms("seller_intro", {**SAMPLE_VARS, "address": "{{ 7*7 }} {% if 1 %}"})
    assert "{{ 7*7 }} {% if 1 %}" in body
    assert "49" not in body


# --- failures -----------------------------------------------------------------------------

def test_a_missing_variable_names_itself_and_the_template(templates: Templates) -> None:
    variables = {k: v for k, v in SAMPLE_VARS.items() if k != "offer"}
    with pytest.raises(TemplateError, match=r"seller_offer.*'offer' is undefined"):
        templates.render_sms("seller_offer", variables)
    with pytest.raises(TemplateError, match=r"email template 'seller_offer'.*'offer'"):
        templates.render_email("seller_offer", variables)
    # Through a filter too: the filter must not turn it into a confusing type error.
    nameless = {k: v for k, v in SAMPLE_VARS.items() if k != "seller_name"}
    with pytest.raises(TemplateError, match=r"seller_intro.*'seller_name' is undefined"):
        templates.render_sms("seller_intro", nameless)


def test_a_missing_variable_in_a_partial_says_where(templates: Templates) -> None:
    variables = {k: v for k, v in SAMPLE_VARS.items() if k != "unsubscribe_url"}
    with pytest.raises(TemplateError, match=r"email/_layout\.\w+\.j2 line \d+.*unsubscribe_url"):
        templates.render_email("seller_email_intro", variables)


def test_a_wrong_type_is_a_template_error(templates: Templates) -> None:
    with pytest.raises(TemplateError, match=r"seller_offer.*TypeError.*money needs an int"):
        templates.render_sms("seller_offer", {**SAMPLE_VARS, "offer": None})


def test_printing_none_is_a_template_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="None"):
        one_sms(tmp_path, "Hi {{ seller_name }}").render_sms("probe", {"seller_name": None})


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ (1).__class__.__base__.__subclasses__() }}",
        "{{ seller_name.__class__ }}",
        "{% if seller_name.__class__ %}x{% endif %}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ range(10) }}",
        "{{ self._TemplateReference__context }}",
        "{{ seller_name|attr('__class__') }}",
        "{{ '{0.__class__}'.format(seller_name) }}",
        "{{ seller_name.upper.__self__ }}",
        "{{ money.__globals__ }}",
        "{{ opt_out.__class__.__subclasses__() }}",
        "{% set items = [] %}{{ items.append(1) }}",
        "{% include '../../../etc/passwd' %}",
        "{% include '/etc/passwd' %}",
        "{{ 'a' * 1000000000 }}",
        "{{ 1000000000 * [0] }}",
        "{{ 9 ** 9 ** 9 }}",
    ],
)
def test_sandbox_escapes_fail_safely(tmp_path: Path, source: str) -> None:
    templates = one_sms(tmp_path, source)
    started = time.monotonic()
    with pytest.raises(TemplateError, match="sms template 'probe'"):
        templates.render_sms("probe", SAMPLE_VARS)
    assert time.monotonic() - started < 5  # refused up front, not after the damage


def test_a_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    templates = one_sms(tmp_path, "Hi\n{% if %}")
    with pytest.raises(TemplateError, match=r"probe.*sms/probe\.txt\.j2 line 2"):
        templates.render_sms("probe", SAMPLE_VARS)


# --- the start-up check -------------------------------------------------------------------

def test_check_reports_every_template_with_sms_segments(templates: Templates) -> None:
    reports = templates.check()
    sms = {r.name: r.segments for r in reports if r.channel == "sms"}
    email = {r.name: r.segments for r in reports if r.channel == "email"}
    assert set(sms) == SMS_NAMES
    assert set(email) == EMAIL_NAMES
    for name, segments in sms.items():
        assert segments == sms_segments(templates.render_sms(name, SAMPLE_VARS))
    assert all(segments is None for segments in email.values())


def test_check_lists_every_failure_at_once(tmp_path: Path) -> None:
    root = make_root(
        tmp_path,
        {
            "sms/good.txt.j2": "Hi {{ seller_name|first_name or 'there' }}",
            "sms/broken.txt.j2": "{% if %}",
            "sms/undefined.txt.j2": "{{ no_such_variable }}",
            "sms/seller_intro.txt.j2": "Hi from {{ company }}, want an offer?",
            "sms/_partial.txt.j2": "{% endif %}",
            "email/half.subject.j2": "Hello",
            "email/half.txt.j2": "Hello {{ unsubscribe_url }}",
            "email/escape.subject.j2": "{{ ''.__class__ }}",
            "email/escape.txt.j2": "x",
            "email/escape.html.j2": "x",
        },
    )
    with pytest.raises(TemplateError) as caught:
        Templates(root).check()
    message = str(caught.value)
    assert "sms/broken.txt.j2" in message
    assert "sms/_partial.txt.j2" in message
    assert "'undefined'" in message and "no_such_variable" in message
    assert "'seller_intro' (en): a marketing SMS must say 'Reply STOP to opt out.'" in message
    assert "'half' (en): missing .html.j2" in message
    assert "'escape'" in message and "unsafe" in message
    assert "'good'" not in message
    assert message.count("broken") == 1  # a file that does not compile is reported once


def test_check_of_a_good_custom_root(tmp_path: Path) -> None:
    root = make_root(tmp_path, {"sms/hello.txt.j2": "{{ '€' }}" + "a" * 159})
    assert [(r.name, r.channel, r.segments) for r in Templates(root).check()] == [
        ("hello", "sms", Segments(Encoding.GSM7, 2, 161))
    ]


@given(st.text(alphabet=st.sampled_from(" \t\n\r\x0b\u2028\xa0ab.éé🏠"), max_size=40) | st.text(max_size=40))
def test_tidy_answers_as_the_line_by_line_tidy_does(text: str) -> None:
    # _tidy skips the regular expressions for one printable, singly spaced line (most SMS).
    assert _tidy(text) == _tidy_lines(text)


def test_every_seller_template_has_a_french_version_with_the_same_variables(templates: Templates) -> None:
    for name in templates.sms_names():
        if name.startswith("seller_"):
            assert templates.has_sms(name, "fr"), name
            french = templates.render_sms_variants(name, SAMPLE_VARS, "fr")
            assert french != templates.render_sms_variants(name, SAMPLE_VARS), name
    for name in templates.email_names():
        if name.startswith("seller_"):
            assert templates.has_email(name, "fr"), name
            assert "Bonjour" in templates.render_email(name, SAMPLE_VARS, "fr").text, name


def test_a_french_marketing_sms_says_how_to_stop_in_french(templates: Templates) -> None:
    body = templates.render_sms("seller_intro", SAMPLE_VARS, "fr")
    assert "Répondez STOP" in body and "Reply STOP" not in body


def test_prompts_have_several_phrasings_each_distinct(templates: Templates) -> None:
    for name in ("seller_ask_condition", "seller_ask_timeline", "seller_ask_price", "seller_ack",
                 "seller_ask_interest", "seller_confirm_price", "seller_hold", "seller_offer_reminder"):
        for language in ("en", "fr"):
            variants = templates.render_sms_variants(name, SAMPLE_VARS, language)
            assert len(variants) >= 3 and len(set(variants)) == len(variants), (name, language)
            assert all("~~~" not in v for v in variants)
    assert templates.render_sms("seller_ack", SAMPLE_VARS) == templates.render_sms_variants("seller_ack", SAMPLE_VARS)[0]


def test_answers_are_checked_against_their_variables_and_rendered_in_the_sandbox(templates: Templates) -> None:
    allowed = frozenset({"company"})
    assert templates.check_text("We are {{ company }}.", allowed) is None
    assert "unknown variable 'offer'" in (templates.check_text("{{ offer }}", allowed) or "")
    assert templates.check_text("{{ company.__class__.__mro__ }}", allowed) is not None
    assert templates.check_text("{% for %}", allowed) is not None
    assert templates.render_text("We are {{ company }}.", {"company": "{{ x }}"}) == "We are {{ x }}."


def test_compiled_templates_are_shared_but_a_template_of_another_source_compiles_anew(tmp_path: Path) -> None:
    # Every Templates shares one process-wide cache of compiled code, keyed by the template's name:
    # the same name with other source (another root, an edited file) must render its own source.
    first = one_sms(tmp_path / "a", "First {{ seller_name }}")
    second = one_sms(tmp_path / "b", "Second {{ seller_name }}")
    assert first.render_sms("probe", {"seller_name": "Jane"}) == "First Jane"
    assert second.render_sms("probe", {"seller_name": "Jane"}) == "Second Jane"
    again = one_sms(tmp_path / "c", "First {{ seller_name }}")
    assert again.render_sms("probe", {"seller_name": "Al"}) == "First Al"
