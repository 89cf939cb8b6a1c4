"""The accepted model forms: GenerativeModels, callables, framework LLMs, HTTP endpoints."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from test_route_support import ASK, TOOLS, Scripted, always, fake_llm, llm_text

from slm_agents.route import OpenAICompatible, Router
from slm_agents.route.models import as_model, to_generation
from slm_agents.train.generation import Generation


@pytest.mark.parametrize(("output", "text", "calls"), [
    ("plain text", "plain text", []),  # text is parsed as model output
    ('<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>',
     None, ["get_weather"]),
    ({"role": "assistant", "content": "hi"}, "hi", []),  # an OpenAI assistant message
    ({"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [
        {"id": "1", "type": "function", "function": {"name": "get_weather",
                                                     "arguments": "{\"city\": \"Oslo\"}"}}]}}],
      "usage": {"prompt_tokens": 7, "completion_tokens": 3}}, None, ["get_weather"]),
    (Generation(text="as is"), "as is", []),
])
def test_model_outputs_of_every_accepted_shape_become_generations(
        output: Any, text: str | None, calls: list[str]) -> None:
    generation = to_generation(output, TOOLS)
    assert generation.text == text
    assert [c.name for c in generation.tool_calls] == calls


def test_an_unreadable_model_output_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="Generation"):
        to_generation(42, None)


def test_a_one_argument_callable_and_an_async_callable_are_accepted() -> None:
    async def async_llm(messages: Any, tools: Any) -> str:
        return "async"

    assert as_model(lambda messages: "one").generate(ASK, None).text == "one"
    assert as_model(async_llm).generate(ASK, None).text == "async"
    assert asyncio.run(as_model(async_llm).agenerate(ASK, None)).text == "async"


def test_a_llama_index_llm_works_as_the_fallback() -> None:
    mock = pytest.importorskip("llama_index.core.llms.mock")
    router = Router(mock.MockLLM(max_tokens=4), {"faq": Scripted("")}, policy=always("faq"))
    answer = router.invoke(ASK)
    assert (answer.route, answer.fallback_reason) == ("llm", "empty")
    assert answer.text


def test_the_llm_streams_natively_when_no_tools_are_offered() -> None:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    llm = GenericFakeChatModel(messages=iter([llm_text("one two three")]))
    router = Router(llm, {}, policy=always("none"))
    chunks = list(router.stream(ASK))
    assert len(chunks) > 1 and "".join(chunks) == "one two three"


class _Handler(BaseHTTPRequestHandler):
    requests: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - the http.server hook name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body,
                                    "auth": self.headers.get("Authorization")})
        reply = {"model": body["model"], "choices": [{"finish_reason": "stop", "message": {
            "role": "assistant",
            "content": '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Oslo"}}'
                       '\n</tool_call>'}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 9}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    _Handler.requests = []
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()
    httpd.server_close()


def test_an_openai_compatible_endpoint_serves_as_a_specialist(server: str) -> None:
    endpoint = OpenAICompatible(server + "/", model="weather-lora", api_key="k",
                                params={"temperature": 0})
    router = Router(fake_llm(), {"weather": endpoint}, policy=always("weather"))
    answer = router.invoke(ASK, TOOLS)
    assert (answer.route, answer.model_name) == ("specialist", "weather-lora")
    assert answer.tool_calls[0].arguments == {"city": "Oslo"}
    assert (answer.input_tokens, answer.output_tokens) == (12, 9)
    assert asyncio.run(router.ainvoke(ASK, TOOLS)).route == "specialist"
    request = _Handler.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer k"
    assert request["body"]["model"] == "weather-lora" and request["body"]["tools"] == TOOLS
    assert request["body"]["temperature"] == 0


def test_an_unreachable_endpoint_escalates_to_the_llm() -> None:
    endpoint = OpenAICompatible("http://127.0.0.1:9/v1", model="m", timeout_s=2)
    router = Router(fake_llm(llm_text("LLM")), {"t": endpoint}, policy=always("t"))
    answer = router.invoke(ASK)
    assert (answer.route, answer.fallback_reason, answer.text) == ("llm", "exception", "LLM")


@pytest.mark.parametrize(("url", "model"), [("localhost:8000", "m"), ("http://x/v1", "")])
def test_an_endpoint_needs_a_url_and_a_model(url: str, model: str) -> None:
    from slm_agents.errors import ConfigError

    with pytest.raises(ConfigError):
        OpenAICompatible(url, model=model)
