"""The company's answers to seller questions: the defaults, what an operator changed, and checking a change."""

from __future__ import annotations

from datetime import datetime

from bot.answers import ANSWER_VARIABLES, DEFAULTS, MAX_ANSWER_LENGTH, TOPICS, Answer, merged
from bot.templates import Templates
from storage import answers
from storage.answers import AnswerRow
from storage.database import Executor


class AnswerRefused(Exception):
    """The answer cannot be stored: ``fields`` names each bad input (the handler's 422)."""

    def __init__(self, fields: dict[str, str]) -> None:
        super().__init__("answer refused")
        self.fields = fields


async def current(db: Executor) -> dict[str, Answer]:
    """Every topic's answer in force, by topic (an operator's, else the product's default)."""
    stored = {
        row.topic: Answer(row.topic, row.text, row.text_fr, is_default=False)
        for row in await answers.all_rows(db)
        if row.topic in DEFAULTS  # a topic the product dropped is not answered any more
    }
    return {answer.topic: answer for answer in merged(stored)}


async def listed(db: Executor) -> list[Answer]:
    return list((await current(db)).values())


def _problem(templates: Templates, text: str) -> str | None:
    if not text.strip():
        return "must not be empty"
    if len(text) > MAX_ANSWER_LENGTH:
        return f"at most {MAX_ANSWER_LENGTH} characters"
    return templates.check_text(text, ANSWER_VARIABLES)


async def replace(
    db: Executor, templates: Templates, topic: str, *, text: str | None, text_fr: str | None, now: datetime
) -> Answer:
    """Store ``topic``'s answer; a language left out keeps the answer in force. Refused: AnswerRefused."""
    if topic not in DEFAULTS:
        raise AnswerRefused({"topic": f"unknown topic {topic!r}; one of {', '.join(TOPICS)}"})
    if text is None and text_fr is None:
        raise AnswerRefused({"body": "give `text`, `text_fr` or both"})
    before = (await current(db))[topic]
    answer = Answer(topic, before.text if text is None else text, before.text_fr if text_fr is None else text_fr, False)
    problems = {
        name: problem
        for name, value in (("text", answer.text), ("text_fr", answer.text_fr))
        if (problem := _problem(templates, value)) is not None
    }
    if problems:
        raise AnswerRefused(problems)
    await answers.upsert(db, AnswerRow(topic, answer.text, answer.text_fr, now))
    return answer
