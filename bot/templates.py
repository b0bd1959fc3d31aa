"""Message templates: every outbound SMS and email renders here, and nowhere else.

Templates live in the ``templates`` package (``templates/sms/<name>.txt.j2``;
``templates/email/<name>.subject.j2``, ``<name>.txt.j2``, ``<name>.html.j2``). Files whose
name starts with ``_`` are partials and layouts: they can be included or extended but
never rendered by name.

The environment is Jinja2's ImmutableSandboxedEnvironment with StrictUndefined, so a
template can neither reach Python internals (SecurityError) nor silently print a missing
variable; both, and every other failure while rendering, surface as TemplateError naming
the template. Decisions a caller must know:

* Only ``.html.j2`` autoescapes; SMS, subjects and text bodies are plain text.
* Jinja's default globals (range, cycler, lipsum, ...) are removed: templates need none
  of them, and each is one more object to reach internals through. The one global is
  ``opt_out``, the opt-out sentence (OPT_OUT_NOTICE), so its wording lives in one place.
* Printing ``None`` is an error: "None" in a text to a seller is always a template bug;
  optional values are tested with ``{% if %}`` first.
* Bodies that operators send directly (``POST /api/messages/*`` with ``body``) are literal
  text, never templates. The one template that is not a shipped file is an answer to a
  seller question (bot/answers.py): ``check_text`` refuses one that uses a variable outside
  the allowed set or fails with the sample values, and ``render_text`` renders it in the same
  sandbox. Variable values are data: ``{{`` inside a seller's name prints as is.
* Languages: a template's French version is the same name under ``fr/`` (``templates/sms/fr/``,
  ``templates/email/fr/``), with the same variables; ``opt_out`` is then the French sentence.
  check() requires a French version of every seller template.
* Phrasings: an SMS template may hold several phrasings of one message, separated by a line
  ``~~~``; ``render_sms_variants`` answers them all (the conversation picks one its seller
  has not seen yet), ``render_sms`` the first. check() holds each phrasing to the rules.
* Rendered SMS and text bodies are tidied: runs of spaces collapse, lines are stripped,
  at most one blank line survives, and the result is stripped. Subjects are one line:
  every whitespace run (CR/LF included, which guards against header injection) is one
  space.
"""

from __future__ import annotations

import importlib.resources
import re
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib.resources.abc import Traversable
from pathlib import Path
from types import MappingProxyType
from typing import Any

import jinja2
import jinja2.meta
from jinja2.bccache import Bucket
from jinja2.loaders import split_template_path
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from storage.enums import Channel, Language

OPT_OUT_NOTICE = "Reply STOP to opt out."
OPT_OUT_NOTICE_FR = "Répondez STOP pour ne plus recevoir de messages."
OPT_OUT_NOTICES = {Language.EN: OPT_OUT_NOTICE, Language.FR: OPT_OUT_NOTICE_FR}
# Every template whose name starts so speaks to a seller, and has a French version.
SELLER_PREFIX = "seller_"
# Between two phrasings of one SMS template, on a line of its own ({% endif %} may eat the
# line break before it, so it is found anywhere).
VARIANT_SEPARATOR = re.compile(r"~~~")

# SMS that start, restart or sell (and the HELP/opt-in answers carriers require to say
# it): each must name the sender and say how to opt out. check() enforces it.
MARKETING_SMS: frozenset[str] = frozenset(
    {
        "seller_intro",
        "seller_followup_1",
        "seller_followup_2",
        "seller_followup_3",
        "seller_nurture",
        "seller_offer",
        "seller_counter",
        "seller_final_offer",
        "seller_help",
        "seller_optin_confirm",
        "buyer_deal_alert",
    }
)

_SMS_DIR = "sms"
_EMAIL_DIR = "email"
_SMS_SUFFIX = ".txt.j2"
_EMAIL_PARTS = (".subject.j2", ".txt.j2", ".html.j2")
_NAME = re.compile(r"[a-z][a-z0-9_]*")

# Generous for any SMS or email we write, small enough that a hostile template cannot
# build a string that exhausts memory (the check runs at start-up, in the server).
_MAX_SEQUENCE = 100_000


class TemplateError(Exception):
    """A template is unknown, does not compile, misses a variable or broke the sandbox.

    The message names the template (and the file and line where known), never a value.
    """


# --- SMS segments -------------------------------------------------------------------------

class Encoding(StrEnum):
    GSM7 = "GSM-7"  # GSM 03.38 default alphabet, 7-bit septets
    UCS2 = "UCS-2"  # anything else: UTF-16 code units


@dataclass(frozen=True, slots=True)
class Segments:
    encoding: Encoding
    segments: int  # 0 for the empty text, which cannot be sent at all
    units: int  # septets (an extension character is 2) or UTF-16 code units


_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Sent as ESC + character, so each costs two septets.
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

# (single message, per segment of a concatenated one): the rest of a concatenated
# segment carries the user data header that joins the parts.
_LIMITS = {Encoding.GSM7: (160, 153), Encoding.UCS2: (70, 67)}


def sms_segments(text: str) -> Segments:
    """How many SMS segments ``text`` costs, and in which encoding.

    An escape pair (GSM-7) or a surrogate pair (UTF-16) is never split across two
    segments, so a long text can need one more segment than units / per-segment.
    """
    if all(ch in _GSM7_BASIC or ch in _GSM7_EXTENSION for ch in text):
        encoding = Encoding.GSM7
        costs = [2 if ch in _GSM7_EXTENSION else 1 for ch in text]
    else:
        encoding = Encoding.UCS2
        costs = [2 if ord(ch) > 0xFFFF else 1 for ch in text]
    units = sum(costs)
    single, per_segment = _LIMITS[encoding]
    if units == 0:
        return Segments(encoding, 0, 0)
    if units <= single:
        return Segments(encoding, 1, units)
    segments, used = 1, 0
    for cost in costs:
        if used + cost > per_segment:
            segments, used = segments + 1, 0
        used += cost
    return Segments(encoding, segments, units)


# --- values and samples -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True, slots=True)
class TemplateReport:
    name: str
    channel: Channel
    segments: Segments | None  # the SMS sample's cost; None for email


# Every variable any template uses, with values long enough to be a fair test of SMS
# length. check() renders each template with these.
SAMPLE_VARS: Mapping[str, object] = MappingProxyType(
    {
        "company": "Northbridge Home Buyers",
        "agent_name": "Sam",
        "seller_name": "Jane Smith",
        "address": "1234 Lakeshore Rd W",
        "city": "Mississauga",
        "offer": 425_000,
        "previous_offer": 400_000,
        "final": False,
        "asking_price": 475_000,
        "liquidity_buyers": 12,
        "accepted_price": 430_000,
        "amount": 325_000,
        "unsubscribe_url": "https://dealbot.example/unsubscribe/sample-token",
        "company_address": "100 King St W, Suite 500, Toronto, ON M5X 1A9",
        "deal_id": 1042,
        "province": "ON",
        "property_type": "detached",
        "bedrooms": 3,
        "bathrooms": 2,
        "sqft": 1450,
        "condition": "needs work",
        "price": 455_000,
        "arv": 650_000,
        "repair_estimate": 60_000,
        "reply_hint": "Reply YES 1042 if you want it.",
    }
)


# --- filters ------------------------------------------------------------------------------

def _raise_if_undefined(value: object) -> None:
    """Filters get a missing variable as an Undefined object; using it as a string makes
    StrictUndefined raise its own "'offer' is undefined", where a type check would only
    say that an Undefined is not an int."""
    if isinstance(value, jinja2.Undefined):
        str(value)


def money(amount: object) -> str:
    """425000 -> "$425,000". Only int: money is whole units, and a None or float here is
    a caller bug we want to hear about."""
    _raise_if_undefined(amount)
    if not isinstance(amount, int) or isinstance(amount, bool):
        raise TypeError(f"money needs an int, got {type(amount).__name__}")
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,}"


_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr"})


def first_name(full_name: object) -> str:
    """The name to greet: "Jane Q. Smith" -> "Jane", "Mr. John Smith" -> "John",
    "JOHN SMITH" -> "John", "" -> "" (templates then say "Hi there")."""
    _raise_if_undefined(full_name)
    if not isinstance(full_name, str):
        raise TypeError(f"first_name needs a str, got {type(full_name).__name__}")
    words = full_name.split()
    if len(words) > 2 and words[0].rstrip(".").lower() in _TITLES:
        words = words[1:]
    elif len(words) == 2 and words[0].rstrip(".").lower() in _TITLES:
        return " ".join(words)  # "Mr. Smith" is the name to use
    if not words:
        return ""
    name = words[0]
    # Imported lists shout or whisper; fix only those, never a deliberate "McKay".
    return name.title() if name.isupper() or name.islower() else name


# --- the environment ----------------------------------------------------------------------

class _TraversableLoader(jinja2.BaseLoader):
    """Loads from a Traversable, so installed wheels (and zips) work like a checkout."""

    def __init__(self, root: Traversable) -> None:
        self._root = root

    def get_source(
        self, environment: jinja2.Environment, template: str
    ) -> tuple[str, str, Callable[[], bool]]:
        # split_template_path refuses ".." so nothing outside the root can be loaded.
        node = self._root.joinpath(*split_template_path(template))
        if not node.is_file():
            raise jinja2.TemplateNotFound(template)
        # Templates are shipped data: compiled once, never reloaded.
        return node.read_text(encoding="utf-8"), template, lambda: True


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(
        self, context: Context, operator: str, left: Any, right: Any
    ) -> Any:
        if operator == "**":
            raise SecurityError("the power operator is not allowed")
        for seq, times in ((left, right), (right, left)):
            if (
                isinstance(seq, str | list | tuple)
                and isinstance(times, int)
                and len(seq) * times > _MAX_SEQUENCE
            ):
                raise SecurityError("repetition result too long")
        return super().call_binop(context, operator, left, right)


def _refuse_none(value: object) -> object:
    if value is None:
        raise ValueError("a value printed as None (test optional values with {% if %})")
    return value


def _is_html(template_name: str | None) -> bool:
    return template_name is not None and template_name.endswith(".html.j2")


_SPACES = re.compile(r"[ \t]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_WHITESPACE = re.compile(r"\s+")


def _tidy(text: str) -> str:
    # One printable line (most SMS) whose only whitespace is single spaces: nothing to tidy
    # but its ends. isprintable() is False for every line break, tab and other blank.
    if text.isprintable() and "  " not in text:
        return text.strip()
    return _tidy_lines(text)


def _tidy_lines(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _one_line(text: str) -> str:
    return _WHITESPACE.sub(" ", text).strip()


def _where(exc: BaseException) -> str:
    """The template file and line that failed: Jinja rewrites tracebacks so template
    frames carry the template's name; syntax errors carry it themselves."""
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.name:
        return f" ({exc.name} line {exc.lineno})"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.endswith(".j2")]
    return f" ({frames[-1].filename} line {frames[-1].lineno})" if frames else ""


class _CompiledOnce(jinja2.BytecodeCache):
    """Compiled templates kept for the life of the process, so that each new Templates (one per
    app: the suite makes two thousand) checks its templates without compiling them again.
    Jinja keys a template by its name and keeps its source's checksum beside the code: another
    root or an edited file compiles anew. Every Templates builds the same environment, which
    is what makes sharing the code safe."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        if (code := self._code.get(bucket.key)) is not None:
            bucket.bytecode_from_string(code)  # a checksum that differs leaves the bucket empty

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledOnce()


class Templates:
    """The shipped templates (or those under ``root``), rendered in the sandbox."""

    def __init__(self, root: Traversable | Path | None = None) -> None:
        self._root: Traversable = importlib.resources.files("templates") if root is None else root
        self._found: set[str] = set()  # template files known to exist (see _is_file)
        self._compiled: dict[str, jinja2.Template] = {}  # render_text's, by source
        self._env = _Sandbox(
            loader=_TraversableLoader(self._root),
            undefined=jinja2.StrictUndefined,
            autoescape=_is_html,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,
            finalize=_refuse_none,
            bytecode_cache=_COMPILED,
        )
        self._env.globals.clear()
        self._env.globals["opt_out"] = OPT_OUT_NOTICE
        self._env.filters["money"] = money
        self._env.filters["first_name"] = first_name

    # --- lookup ---

    def has_sms(self, name: str, language: Language | None = None) -> bool:
        return self._is_file(_folder(_SMS_DIR, language), name, _SMS_SUFFIX)

    def has(self, channel: Channel, name: str) -> bool:
        """A template by this name exists for ``channel``."""
        return self.has_sms(name) if channel is Channel.SMS else self.has_email(name)

    def has_email(self, name: str, language: Language | None = None) -> bool:
        return all(self._is_file(_folder(_EMAIL_DIR, language), name, part) for part in _EMAIL_PARTS)

    def sms_names(self) -> list[str]:
        return sorted(self._names(_SMS_DIR, _SMS_SUFFIX))

    def email_names(self) -> list[str]:
        """Every name with at least one email part (check() fails those missing a part)."""
        return sorted({name for part in _EMAIL_PARTS for name in self._names(_EMAIL_DIR, part)})

    def _is_file(self, folder: str, name: str, suffix: str) -> bool:
        # Only a file found is remembered: templates are shipped data, compiled once and never
        # reloaded, so one seen stays renderable; a name not found is looked for again next time.
        path = f"{folder}/{name}{suffix}"
        if path in self._found:
            return True
        found = bool(_NAME.fullmatch(name)) and self._root.joinpath(folder, name + suffix).is_file()
        if found:
            self._found.add(path)
        return found

    def _names(self, folder: str, suffix: str) -> Iterator[str]:
        directory = self._root.joinpath(folder)
        if not directory.is_dir():
            return
        for node in directory.iterdir():
            name = node.name.removesuffix(suffix)
            if node.name.endswith(suffix) and _NAME.fullmatch(name):
                yield name

    # --- rendering ---

    def render_sms(self, name: str, variables: Mapping[str, object], language: Language | None = None) -> str:
        """The template's first phrasing (in ``language`` when it has that version)."""
        return self.render_sms_variants(name, variables, language)[0]

    def render_sms_variants(
        self, name: str, variables: Mapping[str, object], language: Language | None = None
    ) -> list[str]:
        """Every phrasing of the SMS, in the file's order (one for most templates)."""
        if not self.has_sms(name):
            raise TemplateError(f"unknown sms template {name!r}")
        folder = _folder(_SMS_DIR, language) if self.has_sms(name, language) else _SMS_DIR
        rendered = self._render(
            Channel.SMS, name, f"{folder}/{name}{_SMS_SUFFIX}", _localised(variables, folder)
        )
        variants = [_tidy(part) for part in VARIANT_SEPARATOR.split(rendered)]
        return [v for v in variants if v] or [""]

    def render_email(
        self, name: str, variables: Mapping[str, object], language: Language | None = None
    ) -> RenderedEmail:
        if not self.has_email(name):
            raise TemplateError(f"unknown email template {name!r}")
        folder = _folder(_EMAIL_DIR, language) if self.has_email(name, language) else _EMAIL_DIR
        subject, text, html = (
            self._render(Channel.EMAIL, name, f"{folder}/{name}{part}", _localised(variables, folder))
            for part in _EMAIL_PARTS
        )
        return RenderedEmail(subject=_one_line(subject), text=_tidy(text), html=html.strip())

    def _render(
        self, channel: Channel, name: str, path: str, variables: Mapping[str, object]
    ) -> str:
        try:
            return self._env.get_template(path).render(dict(variables))
        except jinja2.TemplateError as exc:
            raise TemplateError(f"{channel} template {name!r}{_where(exc)}: {exc}") from exc
        # Anything a template does can raise (a filter's TypeError, a division by zero):
        # all of it is this template's failure, reported the same way.
        except Exception as exc:
            raise TemplateError(
                f"{channel} template {name!r}{_where(exc)}: {type(exc).__name__}: {exc}"
            ) from exc

    # --- templates that are not files: the company's answers -------------------------------

    def check_text(self, text: str, allowed: frozenset[str]) -> str | None:
        """What is wrong with ``text`` as a template using only ``allowed`` variables, or None."""
        try:
            names = jinja2.meta.find_undeclared_variables(self._env.parse(text))
        except jinja2.TemplateSyntaxError as exc:
            return f"not a valid template (line {exc.lineno}): {exc.message}"
        unknown = sorted(names - allowed - set(self._env.globals))
        if unknown:
            return f"unknown variable {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
        try:
            self.render_text(text, {name: SAMPLE_VARS[name] for name in allowed if name in SAMPLE_VARS})
        except TemplateError as exc:
            return str(exc)
        return None

    def render_text(self, text: str, variables: Mapping[str, object]) -> str:
        """``text`` (checked by check_text) rendered as one tidy plain-text SMS part."""
        try:
            template = self._compiled.get(text)
            if template is None:
                if len(self._compiled) > 256:
                    self._compiled.clear()
                template = self._compiled[text] = self._env.from_string(text)
            return _tidy(template.render(dict(variables)))
        except Exception as exc:  # as _render: anything a template does is its failure
            raise TemplateError(f"text template: {type(exc).__name__}: {exc}") from exc

    # --- start-up check ---

    def check(self) -> list[TemplateReport]:
        """Compile every template file (partials too) and render every template with
        SAMPLE_VARS, in every language it has (a seller template must have each). Raise one
        TemplateError listing every failure; else report each template, with the SMS sample's
        segment count."""
        failures: list[str] = []
        broken: set[str] = set()
        for path in self._all_files():
            try:
                self._env.get_template(path)
            except jinja2.TemplateError as exc:
                broken.add(path)
                failures.append(f"template file{_where(exc) or f' ({path})'}: {exc}")
        reports: list[TemplateReport] = []
        for name in self.sms_names():
            for language in Language:
                report = self._check_sms(name, language, broken, failures)
                if report is not None and language is Language.EN:
                    reports.append(report)
        for name in self.email_names():
            for language in Language:
                if self._check_email(name, language, broken, failures) and language is Language.EN:
                    reports.append(TemplateReport(name, Channel.EMAIL, None))
        if failures:
            raise TemplateError("template check failed:\n" + "\n".join(failures))
        return reports

    def _check_sms(self, name: str, language: Language, broken: set[str], failures: list[str]) -> TemplateReport | None:
        folder = _folder(_SMS_DIR, language)
        if not self.has_sms(name, language):
            if name.startswith(SELLER_PREFIX):
                failures.append(f"sms template {name!r}: no {language} version ({folder}/)")
            return None
        if f"{folder}/{name}{_SMS_SUFFIX}" in broken:
            return None  # already reported; rendering would only say it again
        try:
            variants = self.render_sms_variants(name, SAMPLE_VARS, language)
        except TemplateError as exc:
            failures.append(str(exc))
            return None
        if name in MARKETING_SMS:
            for body in variants:
                failures.extend(_marketing_failures(name, body, language))
        return TemplateReport(name, Channel.SMS, sms_segments(variants[0]))

    def _check_email(self, name: str, language: Language, broken: set[str], failures: list[str]) -> bool:
        folder = _folder(_EMAIL_DIR, language)
        missing = [p for p in _EMAIL_PARTS if not self._is_file(folder, name, p)]
        if len(missing) == len(_EMAIL_PARTS) and language is not Language.EN and not name.startswith(SELLER_PREFIX):
            return False
        if missing:
            failures.append(f"email template {name!r} ({language}): missing {', '.join(missing)}")
            return False
        if broken.intersection(f"{folder}/{name}{part}" for part in _EMAIL_PARTS):
            return False
        try:
            self.render_email(name, SAMPLE_VARS, language)
        except TemplateError as exc:
            failures.append(str(exc))
            return False
        return True

    def _all_files(self) -> Iterator[str]:
        for base in (_SMS_DIR, _EMAIL_DIR):
            for folder in (base, _folder(base, Language.FR)):
                directory = self._root.joinpath(folder)
                if directory.is_dir():
                    names = (node.name for node in directory.iterdir())
                    yield from sorted(f"{folder}/{n}" for n in names if n.endswith(".j2"))


def _folder(folder: str, language: Language | None) -> str:
    return f"{folder}/{Language.FR}" if language == Language.FR else folder


def _localised(variables: Mapping[str, object], folder: str) -> Mapping[str, object]:
    if folder.endswith(f"/{Language.FR}"):
        return {"opt_out": OPT_OUT_NOTICE_FR, **variables}
    return variables


def _marketing_failures(name: str, body: str, language: Language = Language.EN) -> list[str]:
    failures = []
    notice = OPT_OUT_NOTICES[language]
    if str(SAMPLE_VARS["company"]) not in body:
        failures.append(f"sms template {name!r} ({language}): a marketing SMS must name the company")
    if notice not in body:
        failures.append(f"sms template {name!r} ({language}): a marketing SMS must say {notice!r}")
    return failures
