"""The company's answers to seller questions: the defaults, what an operator changed, and checking a change."""

from __future__ import annotations

from bot.answers import ANSWER_VARIABLES, DEFAULTS, MAX_ANSWER_LENGTH, TOPICS, Answer, merged
from bot.refusals import invalid
from bot.services.deps import Deps
from bot.templates import Templates
from storage import answers
from storage.answers import AnswerRow
from storage.database import Executor


async def current(db: Executor) -> dict[str, Answer]:
    """Every topic's answer in force, by topic (an operator's, else the product's default)."""
    stored = {
        row.topic: Answer(row.topic, row.text, row.text_fr, is_default=False)
        for row in await answers.all_rows(db)
        if row.topic in DEFAULTS  # a topic the product dropped is not answered any more
    }
    return {answer.topic: answer for answer in merged(stored)}


async def listed(deps: Deps) -> list[Answer]:
    return list((await current(deps.db)).values())


def _problem(templates: Templates, text: str) -> str | None:
    if not text.strip():
        return "must not be empty"
    if len(text) > MAX_ANSWER_LENGTH:
        return f"at most {MAX_ANSWER_LENGTH} characters"
    return templates.check_text(text, ANSWER_VARIABLES)


async def replace(deps: Deps, topic: str, *, text: str | None, text_fr: str | None) -> Answer:
    """Store ``topic``'s answer; a language left out keeps the answer in force. Refused as ``invalid``."""
    if topic not in DEFAULTS:
        raise invalid({"topic": f"unknown topic {topic!r}; one of {', '.join(TOPICS)}"})
    if text is None and text_fr is None:
        raise invalid({"body": "give `text`, `text_fr` or both"})
    before = (await current(deps.db))[topic]
    answer = Answer(topic, before.text if text is None else text, before.text_fr if text_fr is None else text_fr, False)
    problems = {
        name: problem
        for name, value in (("text", answer.text), ("text_fr", answer.text_fr))
        if (problem := _problem(deps.templates, value)) is not None
    }
    if problems:
        raise invalid(problems)
    await answers.upsert(deps.db, AnswerRow(topic, answer.text, answer.text_fr, deps.clock.now()))
    return answer
