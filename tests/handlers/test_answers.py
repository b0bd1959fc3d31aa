"""The answers to seller questions through HTTP: shipped defaults, a company's own, refused ones."""

from __future__ import annotations

from aiohttp.test_utils import TestClient

from bot.answers import TOPICS

CONTRACT_TOPICS = (
    "who", "how_got_number", "process", "fees", "closing_speed",
    "agent", "legit", "proof_of_funds", "offer_basis", "next_steps",
)  # fmt: skip


async def test_every_topic_has_a_default_in_both_languages_naming_the_company(client: TestClient) -> None:
    listed = (await (await client.get("/api/answers")).json())["answers"]
    assert [a["topic"] for a in listed] == list(TOPICS)
    assert set(CONTRACT_TOPICS) <= set(TOPICS)
    for answer in listed:
        assert answer["is_default"] is True
        assert "{{ company }}" in answer["text"] and "{{ company }}" in answer["text_fr"], answer["topic"]


async def test_a_company_replaces_an_answer_and_a_missing_language_is_kept(client: TestClient) -> None:
    put = await client.put("/api/answers/fees", json={"topic": "fees", "text": "No fees at {{ company }}, ever."})
    assert put.status == 200, await put.text()
    body = await put.json()
    assert body["text"] == "No fees at {{ company }}, ever." and body["is_default"] is False
    assert body["text_fr"].startswith("Aucuns frais")  # the French one in force is kept
    listed = {a["topic"]: a for a in (await (await client.get("/api/answers")).json())["answers"]}
    assert listed["fees"]["text"] == "No fees at {{ company }}, ever." and listed["who"]["is_default"] is True
    again = await client.put("/api/answers/fees", json={"text_fr": "Aucuns frais chez {{ company }}."})
    assert (await again.json())["text"] == "No fees at {{ company }}, ever."


async def test_unknown_topics_variables_and_broken_templates_are_422_with_fields(client: TestClient) -> None:
    cases = [
        ("weather", {"text": "Sunny."}, "topic"),
        ("fees", {"text": "Hi {{ ssn }}"}, "text"),
        ("fees", {"text_fr": "Bonjour {{ offer|money }}"}, "text_fr"),
        ("fees", {"text": "{% if %}"}, "text"),
        ("fees", {"text": "{{ company.__class__ }}"}, "text"),
        ("fees", {"text": "   "}, "text"),
        ("fees", {"text": "x" * 401}, "text"),
        ("fees", {"topic": "who", "text": "Hi"}, "topic"),
    ]
    for topic, body, field in cases:
        response = await client.put(f"/api/answers/{topic}", json=body)
        assert response.status == 422, (topic, body)
        assert field in (await response.json())["fields"], (topic, body)
    listed = {a["topic"]: a for a in (await (await client.get("/api/answers")).json())["answers"]}
    assert listed["fees"]["is_default"] is True, "nothing partial is stored"
