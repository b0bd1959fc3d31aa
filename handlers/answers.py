"""The company's answers to seller questions: list them, replace one."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.answers import TOPICS, Answer
from bot.refusals import invalid
from bot.responses import AnswerList, AnswerOut
from bot.schemas import AnswerIn
from bot.services import answers
from handlers import appkeys
from handlers.openapi import documented
from handlers.validation import json_ok, parse_body

routes = web.RouteTableDef()


def answer_json(answer: Answer) -> dict[str, Any]:
    return {"topic": answer.topic, "text": answer.text, "text_fr": answer.text_fr, "is_default": answer.is_default}


@routes.get("/api/answers")
@documented(
    "The answers to seller questions", tag="conversations", responses={200: AnswerList},
    description="One per topic: the company's where it set one, else the product's default.",
)
async def list_answers(request: web.Request) -> web.Response:
    listed = await answers.listed(request.app[appkeys.DEPS])
    return json_ok({"answers": [answer_json(a) for a in listed]})


@routes.put("/api/answers/{topic}")
@documented(
    "Replace a topic's answer", tag="conversations", body=AnswerIn, responses={200: AnswerOut},
    path={"topic": {"type": "string", "enum": list(TOPICS)}},
    description="Rendered like a message template (sandboxed; `company`, `agent_name`, `seller_name`, "
    "`address`, `city`); an unknown topic or variable is a 422 naming the field.",
)
async def put_answer(request: web.Request) -> web.Response:
    topic = request.match_info["topic"]
    body = await parse_body(request, AnswerIn)
    if body.topic is not None and body.topic != topic:
        raise invalid({"topic": "must be the path's topic"})
    answer = await answers.replace(request.app[appkeys.DEPS], topic, text=body.text, text_fr=body.text_fr)
    return json_ok(answer_json(answer))
