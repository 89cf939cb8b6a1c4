"""The specialist's turn on one call: sample, check, vote, retry with feedback.

The steps are written once, as a plan (a generator) that yields the message lists it wants
answered and receives the answers (or the exceptions they raised); a sync driver answers them one
by one and an async driver answers them concurrently. So the test-time compute policy is the same
code whichever way the router is called:

1. ``samples`` answers to the call (self-consistency when more than one);
2. each answer is checked against the call's contract (:mod:`slm_agents.route.validation`);
3. the valid answers vote on their canonical parsed answer and the most common one is served;
4. when none is valid and ``retry_with_feedback`` is on, the specialist is asked once more, with
   its rejected answer and the checker's message appended to the conversation;
5. otherwise the plan ends with a fallback reason and the router asks the LLM.

Every generation counts in the outcome's ``attempts`` and token totals.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..train.generation import Generation, format_tool_calls
from .models import ModelHandle
from .validation import ToolContract, Validator, check_generation, vote

__all__ = ["FEEDBACK_TEMPLATE", "StageOutcome", "plan", "run_async", "run_sync"]

#: The user turn a retry appends after the rejected answer; ``{error}`` is the checker's message.
FEEDBACK_TEMPLATE = (
    "Your previous answer was rejected: {error}. Answer the request again, following the "
    "instructions and the tool schemas exactly."
)

Messages = Sequence[Mapping[str, Any]]
Plan = Generator[list[Messages], list[Any], "StageOutcome"]


@dataclass(slots=True)
class StageOutcome:
    """What the specialist's turn produced.

    Attributes:
        generation: The answer to serve, or ``None`` when the call must go to the LLM.
        reason: Why not (``parse_error``, ``unknown_tool``, ``schema_violation``, ``empty``,
            ``validator``, ``exception``, ``timeout``), or ``None``.
        message: The checker's or the exception's message.
        attempts: Specialist generations made (samples and the retry).
        input_tokens / output_tokens: Their token totals (estimated where none were reported).
        retried: Whether a retry with feedback was made.
        vote_share: With several samples, the share of valid samples that gave the served answer.
        rejected: The last rejected answer (kept for the record: escalations are training data).
        first_reason: The reason of the first failure, when the retry failed differently.
        model_ms: Time spent inside the specialist.
    """

    generation: Generation | None = None
    reason: str | None = None
    message: str | None = None
    attempts: int = 0
    input_tokens: float = 0.0
    output_tokens: float = 0.0
    retried: bool = False
    vote_share: float | None = None
    rejected: Generation | None = None
    first_reason: str | None = None
    model_ms: float = 0.0


def input_chars(messages: Messages) -> int:
    """Characters of text in a conversation (for estimating tokens a model did not report)."""
    total = 0
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            total += len(content)
    return total


def output_chars(generation: Generation) -> int:
    """Characters of an answer (raw output, else text and tool calls)."""
    if generation.raw:
        return len(generation.raw)
    size = len(generation.text or "")
    for call in generation.tool_calls:
        size += len(call.name) + len(str(call.arguments)) + 12
    return size


def _rejected_turn(generation: Generation) -> str:
    if generation.raw:
        return generation.raw
    parts = [generation.text] if generation.text else []
    if generation.tool_calls:
        parts.append(format_tool_calls(generation.tool_calls))
    return "\n".join(parts)


def plan(messages: Messages, contract: ToolContract | None, validators: Sequence[Validator],
         call: Any, samples: int = 1, retry_with_feedback: bool = False) -> Plan:
    """The specialist's turn as a plan; drive it with :func:`run_sync` or :func:`run_async`."""
    outcome = StageOutcome()
    estimated_input: float | None = None
    request: list[Messages] = [messages] * samples
    retrying = False
    while True:
        results = yield request
        valid: list[Generation] = []
        failure: tuple[str, str, Generation | None] | None = None
        for result in results:
            outcome.attempts += 1
            if isinstance(result, BaseException):
                failure = failure or ("exception", f"{type(result).__name__}: {result}", None)
                continue
            if result.input_tokens or result.output_tokens:
                outcome.input_tokens += result.input_tokens
                outcome.output_tokens += result.output_tokens
            else:
                if estimated_input is None:
                    estimated_input = input_chars(messages) / 4.0
                outcome.input_tokens += estimated_input
                outcome.output_tokens += output_chars(result) / 4.0
            verdict = check_generation(result, contract, validators, call)
            if verdict is None:
                valid.append(result)
            elif failure is None or failure[0] == "exception":
                failure = (verdict[0], verdict[1], result)
        if valid:
            index, share = vote(valid)
            outcome.generation = valid[index]
            if len(results) > 1:  # the share of all samples that gave the served answer
                outcome.vote_share = share * len(valid) / len(results)
            if retrying:  # served after feedback: keep why the first answer was rejected
                outcome.first_reason, outcome.reason = outcome.reason, None
            return outcome
        assert failure is not None
        reason, message, rejected = failure
        if retrying:
            outcome.first_reason = outcome.reason
        outcome.reason, outcome.message = reason, message
        outcome.rejected = rejected or outcome.rejected
        if retrying or not retry_with_feedback or rejected is None:
            return outcome
        retrying = outcome.retried = True
        request = [[*messages, {"role": "assistant", "content": _rejected_turn(rejected)},
                    {"role": "user", "content": FEEDBACK_TEMPLATE.format(error=message)}]]


def run_sync(steps: Plan, model: ModelHandle, tools: Any) -> StageOutcome:
    """Drive a plan with sync calls, one after the other."""
    request = next(steps)
    spent = 0.0
    while True:
        results: list[Any] = []
        for messages in request:
            start = time.perf_counter()
            try:
                results.append(model.generate(messages, tools))
            except Exception as exc:  # the specialist failing is a fallback, not an error
                results.append(exc)
            spent += time.perf_counter() - start
        try:
            request = steps.send(results)
        except StopIteration as stop:
            outcome: StageOutcome = stop.value
            outcome.model_ms = spent * 1000.0
            return outcome


async def run_async(steps: Plan, model: ModelHandle, tools: Any) -> StageOutcome:
    """Drive a plan with async calls; the samples of one step run concurrently."""
    request = next(steps)
    spent = 0.0
    while True:
        start = time.perf_counter()
        if len(request) == 1:
            try:
                results: list[Any] = [await model.agenerate(request[0], tools)]
            except Exception as exc:
                results = [exc]
        else:
            results = list(await asyncio.gather(
                *(model.agenerate(m, tools) for m in request), return_exceptions=True))
        spent += time.perf_counter() - start
        try:
            request = steps.send(results)
        except StopIteration as stop:
            outcome: StageOutcome = stop.value
            outcome.model_ms = spent * 1000.0
            return outcome
