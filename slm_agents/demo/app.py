"""The demo's multi-agent travel assistant, built with LangChain runnables.

Four agents share one LLM endpoint: ``triage`` labels the request, ``tool_agent`` picks a tool and
its arguments, ``summariser`` condenses pages, and ``responder`` writes the human-facing answer.
The LLM is LangChain's own ``FakeMessagesListChatModel`` replaying a capable model's answers, so
the application runs offline while every call goes through the real framework.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables import Runnable, RunnableLambda
from langchain_core.utils.function_calling import convert_to_openai_tool

from .workload import TOOLS, DemoRequest, run_tool

__all__ = ["ReplayChatModel", "TravelAssistant"]


class ReplayChatModel(FakeMessagesListChatModel):
    """LangChain's fake chat model, replaying answers in order, with tools and token usage.

    ``bind_tools`` binds the tools as OpenAI specs (so they reach the callbacks' invocation
    params as a real provider's would); usage is estimated at four characters per token.
    """

    model_name: str = "gpt-4o"

    def bind_tools(  # type: ignore[override]
            self, tools: Sequence[Any], **kwargs: Any) -> Runnable[Any, BaseMessage]:
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(self, messages: list[BaseMessage], stop: list[str] | None = None,
                  run_manager: Any = None, **kwargs: Any) -> ChatResult:
        result = super()._generate(messages, stop, run_manager, **kwargs)
        message = result.generations[0].message
        prompt_chars = sum(len(str(m.content)) for m in messages)
        out_chars = len(str(message.content)) + len(json.dumps(getattr(message, "tool_calls", [])))
        usage = {"input_tokens": prompt_chars // 4 + 1, "output_tokens": out_chars // 4 + 1}
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        result.generations[0].message = message.model_copy(update={"usage_metadata": usage})
        return result

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = "replay"
        params["ls_model_name"] = self.model_name
        return params


TRIAGE_PROMPT = ChatPromptTemplate.from_messages([
    ("system", "You are the triage agent of a travel assistant. Classify the user's request as "
               "exactly one of: weather, currency, meeting, summary. Answer with the label only."),
    ("human", "{request}"),
])
TOOL_PROMPT = ChatPromptTemplate.from_messages([
    ("system", "You are the tool agent. Call exactly one of the tools you are given with "
               "arguments taken from the user's request. Dates are ISO 8601."),
    ("human", "{request}"),
])
SUMMARY_PROMPT = ChatPromptTemplate.from_messages([
    ("system", "Summarise the page in at most two short bullet points for a traveller."),
    ("human", "{document}"),
])
RESPONDER_PROMPT = ChatPromptTemplate.from_messages([
    ("system", "You are a friendly travel assistant. Answer the user using the context."),
    ("human", "{request}"),
    MessagesPlaceholder("context"),
])


def _answers(requests: Sequence[DemoRequest]) -> dict[str, list[BaseMessage]]:
    """What a capable LLM answers at each step, in the order the application asks."""
    triage: list[BaseMessage] = []
    tool_agent: list[BaseMessage] = []
    summariser: list[BaseMessage] = []
    responder: list[BaseMessage] = []
    for i, req in enumerate(requests):
        triage.append(AIMessage(content=req.task))
        if req.tool_call is not None:
            call = {"name": req.tool_call["name"], "args": req.tool_call["args"],
                    "id": f"call_{i}", "type": "tool_call"}
            tool_agent.append(AIMessage(content="", tool_calls=[call]))
            result = run_tool(call["name"], call["args"])
            responder.append(AIMessage(content=f"Done: {json.dumps(result)}. Anything else?"))
        else:
            sights = req.facts["sights"]
            summary = (f"- Start with {sights[0]}, then {sights[1]}.\n"
                       f"- Museums close on {req.facts['day']}.")
            summariser.append(AIMessage(content=summary))
            responder.append(AIMessage(content=f"Here are the key points:\n{summary}"))
    return {"triage": triage, "tool_agent": tool_agent, "summariser": summariser,
            "responder": responder}


class TravelAssistant:
    """The application: one root runnable per request, with a child run per agent step."""

    def __init__(self, requests: Sequence[DemoRequest]) -> None:
        answers = _answers(requests)
        # One replayed model per agent keeps each agent's answers in order.
        llm = {name: ReplayChatModel(responses=msgs or [AIMessage(content="")])
               for name, msgs in answers.items()}

        def step(name: str, chain: Runnable[Any, Any], **extra: Any) -> Runnable[Any, Any]:
            return chain.with_config(run_name=name, metadata={"agent": name}, **extra)

        self.triage = step("triage", TRIAGE_PROMPT | llm["triage"])
        self.tool_agent = step("tool_agent", TOOL_PROMPT | llm["tool_agent"].bind_tools(TOOLS))
        self.summariser = step("summariser", SUMMARY_PROMPT | llm["summariser"])
        # The responder's answer is shown to the user: tagged human-facing, kept out of training.
        self.responder = step("responder", RESPONDER_PROMPT | llm["responder"],
                              tags=["human_facing"])
        self.root: Runnable[DemoRequest, str] = RunnableLambda(self._handle).with_config(
            run_name="travel_assistant")

    def _handle(self, req: DemoRequest) -> str:
        label = str(self.triage.invoke({"request": req.text}).content).strip()
        context: list[BaseMessage] = []
        if label == "summary":
            summary = self.summariser.invoke({"document": req.document or req.text})
            context.append(AIMessage(content=f"Summary: {summary.content}"))
        else:
            decision = self.tool_agent.invoke({"request": req.text})
            for call in decision.tool_calls:
                result = run_tool(call["name"], call["args"])
                context.extend([decision, ToolMessage(content=json.dumps(result),
                                                      tool_call_id=call["id"])])
        answer = self.responder.invoke({"request": req.text, "context": context})
        return str(answer.content)

    def handle(self, req: DemoRequest) -> str:
        """Answer one request (the call site knows nothing about capture)."""
        return self.root.invoke(req)
