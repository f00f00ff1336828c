"""Speed fixes for the Rasa 3.6 server, found with `make bench` (docs/benchmarks.md).

`apply()` is called once by the REST channel when the Rasa server loads it (bot.channels),
and by the benchmark's in-process cost breakdown. Each fix keeps what Rasa does and changes
only what it costs; tests/test_rasa_speedups.py checks that the behaviour is unchanged.

- Rasa checks each action server response against a JSON schema with `jsonschema.validate`,
  which first re-validates the schema itself against the JSON Schema meta-schema: about
  30 ms of the 80 ms the Rasa server spent on a guide turn. Here the schema is checked once and
  its validator reused; responses are still validated, with the same error.
- Rasa runs the whole NLU pipeline (spaCy, featurizers, classifier) on a button payload
  such as `/next_step`, then its last component throws that work away and reads the intent
  from the payload. Here a payload naming a known intent is read directly, with Rasa's own
  reader; anything else goes through the pipeline as before.
- Rasa finds an event's class by walking all subclasses of `Event`, for every event it
  reads back from the tracker store. Here each class is found once, then remembered.
- Once the model is loaded, the server holds about 1.3 million Python objects (TensorFlow,
  spaCy, the model). Each full garbage collection walks them all: about half a second,
  during which no visitor gets an answer. `freeze_loaded_objects()`, called once the
  server has started, moves them out of the collector's reach (`gc.freeze`).
- Rasa loads the spaCy model twice (once per graph node that needs it): the second load
  reuses the first, the same read-only pipeline.
- Rasa opens a new aiohttp session, hence a new TCP connection, for every action call. Here
  one session per event loop keeps connections to the action server alive.
"""

from __future__ import annotations

import asyncio
from typing import Any

KEEPALIVE_SECONDS = 2.0
_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    _validate_action_results_with_a_compiled_schema()
    _read_button_payloads_without_the_pipeline()
    _remember_event_classes()
    _load_each_spacy_model_once()
    _keep_action_server_connections_alive()
    _applied = True


def freeze_loaded_objects() -> None:
    import gc

    gc.collect()
    gc.freeze()


def _validate_action_results_with_a_compiled_schema() -> None:
    from jsonschema import ValidationError
    from jsonschema.exceptions import best_match
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction
    from rasa.shared.constants import DOCS_BASE_URL

    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)

    def _validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        error = best_match(validator.iter_errors(result))
        if error is None:
            return True
        assert isinstance(error, ValidationError)
        # The message Rasa's own version adds.
        error.message += (
            ". Failed to validate Action server response from API, "
            "make sure your response from the Action endpoint is valid. "
            "For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error

    RemoteAction._validate_action_result = _validate_action_result


def _read_button_payloads_without_the_pipeline() -> None:
    from rasa.core.channels.channel import UserMessage
    from rasa.core.processor import MessageProcessor
    from rasa.shared.constants import INTENT_MESSAGE_PREFIX
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
    from rasa.shared.nlu.constants import (
        ENTITIES,
        INTENT,
        INTENT_NAME_KEY,
        PREDICTED_CONFIDENCE_KEY,
        TEXT,
    )
    from rasa.shared.nlu.training_data.message import Message

    original = MessageProcessor._parse_message_with_graph

    def _parse_message_with_graph(
        self: MessageProcessor,
        message: UserMessage,
        tracker: DialogueStateTracker,
        only_output_properties: bool = True,
    ) -> dict[str, Any]:
        text = (message.text or "").strip()
        if text.startswith(INTENT_MESSAGE_PREFIX):
            given = Message({TEXT: text})
            # What the pipeline's last component (RegexMessageHandler) does with it.
            read = YAMLStoryReader.unpack_regex_message(
                given, self.domain, entity_extractor_name="RegexMessageHandler"
            )
            if read is not given:
                parse_data: dict[str, Any] = {
                    TEXT: "",
                    INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0},
                    ENTITIES: [],
                }
                parse_data.update(read.as_dict(only_output_properties=only_output_properties))
                return parse_data
        return original(self, message, tracker, only_output_properties)

    _parse_message_with_graph.original = original  # type: ignore[attr-defined]
    MessageProcessor._parse_message_with_graph = _parse_message_with_graph


def _remember_event_classes() -> None:
    from rasa.shared.core.events import Event
    from rasa.shared.utils.common import all_subclasses

    original = Event.__dict__["resolve_by_type"].__func__
    found: dict[str, type[Event]] = {}

    def resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
        cls = found.get(type_name)
        if cls is None:
            cls = next((c for c in all_subclasses(Event) if c.type_name == type_name), None)
            if cls is None:  # unknown names: Rasa's own answer (default, None or error)
                return original(type_name, default)
            found[type_name] = cls
        return cls

    Event.resolve_by_type = staticmethod(resolve_by_type)


def _load_each_spacy_model_once() -> None:
    from rasa.nlu.utils.spacy_utils import SpacyModel, SpacyNLP

    original = SpacyNLP.__dict__["load_model"].__func__
    loaded: dict[str, SpacyModel] = {}

    def load_model(spacy_model_name: str) -> SpacyModel:
        if spacy_model_name not in loaded:
            loaded[spacy_model_name] = original(spacy_model_name)
        return loaded[spacy_model_name]

    SpacyNLP.load_model = staticmethod(load_model)


# The sessions kept open: (event loop, endpoint, session). One per endpoint (its headers
# and auth) and event loop.
_kept_sessions: list[tuple[asyncio.AbstractEventLoop, Any, Any]] = []


async def close_kept_sessions() -> None:
    """Close the kept sessions of the running event loop: before the loop ends (the server
    stops, or an `asyncio.run` of the benchmark or a test returns)."""
    loop = asyncio.get_running_loop()
    for kept in [k for k in _kept_sessions if k[0] is loop]:
        _kept_sessions.remove(kept)
        await kept[2].close()


def _keep_action_server_connections_alive() -> None:
    import aiohttp
    from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
    from rasa.utils import endpoints

    class _KeptSession:
        """Stands for the `aiohttp.ClientSession(...)` Rasa opens and closes per request:
        hands out the endpoint's session for this event loop and leaves it open on exit."""

        def __init__(self, session: aiohttp.ClientSession) -> None:
            self.session = session

        async def __aenter__(self) -> aiohttp.ClientSession:
            return self.session

        async def __aexit__(self, *exc: object) -> None:
            return None

    def session(self: endpoints.EndpointConfig) -> _KeptSession:
        loop = asyncio.get_running_loop()
        _kept_sessions[:] = [k for k in _kept_sessions if not k[0].is_closed() and not k[2].closed]
        shared = next((k[2] for k in _kept_sessions if k[0] is loop and k[1] is self), None)
        if shared is None:
            shared = aiohttp.ClientSession(
                # Rasa's own settings (EndpointConfig.session), plus a keep-alive shorter
                # than the action server's (Sanic: 5 s), so that an idle connection is
                # dropped here before the server closes it under a request.
                headers=self.headers,
                auth=aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"])
                if self.basic_auth
                else None,
                timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_SECONDS),
            )
            _kept_sessions.append((loop, self, shared))
        return _KeptSession(shared)

    endpoints.EndpointConfig.session = session
