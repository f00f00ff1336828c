"""The Rasa speed fixes change what things cost, not what Rasa does."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import web
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.nlu.utils.spacy_utils import SpacyNLP
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_speedups
from bot.settings import ROOT
from bot.stack import MODEL_NAME

rasa_speedups.apply()


@pytest.fixture(scope="module")
def agent() -> Agent:
    model = ROOT / "models" / MODEL_NAME
    assert model.exists(), "make test trains the model first"
    return Agent.load(str(model))


def test_action_responses_are_still_validated() -> None:
    action = RemoteAction("action_start_guide", None)
    good = {"events": [{"event": "slot", "name": "guide_id", "value": "x"}], "responses": []}
    assert action._validate_action_result(good) is True
    with pytest.raises(ValidationError) as caught:
        action._validate_action_result({"events": [{"event": 12}], "responses": []})
    assert "Failed to validate Action server response" in caught.value.message
    with pytest.raises(ValidationError):
        action._validate_action_result({"events": "nothing", "responses": []})


def test_button_payloads_parse_as_the_pipeline_does(agent: Agent) -> None:
    processor = agent.processor
    assert processor is not None
    through_pipeline = processor._parse_message_with_graph.original
    tracker = DialogueStateTracker("visitor", [])
    intents = list(agent.domain.intents)
    texts = [f"/{intent}" for intent in intents] + [
        "/next_step@0.4",
        '/affirm{"contact_preference": "mail"}',
        "  /stop_guide  ",
        "/no_such_intent",
        "/",
        "suivant",
        "je dois declarer mes impots",
    ]
    shortcut_taken = 0
    for text in texts:
        message = UserMessage(text, sender_id="visitor")
        fast = processor._parse_message_with_graph(message, tracker)
        slow = through_pipeline(processor, message, tracker)
        assert fast == slow, text
        shortcut_taken += fast.get("intent_ranking") == [fast["intent"]]
    assert shortcut_taken >= len(intents)


def test_event_classes_are_found_as_before() -> None:
    for cls in (ActionExecuted, SlotSet, UserUttered):
        assert Event.resolve_by_type(cls.type_name) is cls
    assert Event.resolve_by_type("no_such_event", default=SlotSet) is SlotSet
    assert Event.resolve_by_type("topic") is None
    with pytest.raises(ValueError):
        Event.resolve_by_type("no_such_event")


def test_spacy_model_loaded_once() -> None:
    first = SpacyNLP.load_model("fr_core_news_sm")
    assert SpacyNLP.load_model("fr_core_news_sm") is first
    assert "lemmatizer" in first.model.pipe_names


def test_action_calls_reuse_one_connection() -> None:
    async def scenario() -> tuple[int, list[Any]]:
        connections: set[int] = set()

        async def webhook(request: web.Request) -> web.Response:
            assert request.transport is not None
            connections.add(id(request.transport))
            return web.json_response({"events": [], "responses": []})

        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook")
        answers = [await endpoint.request(json={"n": n}, method="post") for n in range(5)]
        kept = [k[2] for k in rasa_speedups._kept_sessions if k[1] is endpoint]
        assert len(kept) == 1
        await rasa_speedups.close_kept_sessions()
        assert kept[0].closed
        assert not [k for k in rasa_speedups._kept_sessions if k[1] is endpoint]
        await runner.cleanup()
        return len(connections), answers

    count, answers = asyncio.run(scenario())
    assert answers == [{"events": [], "responses": []}] * 5
    assert count == 1
