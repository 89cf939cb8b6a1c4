"""What the caller gets back (:class:`RoutedGeneration`) and what the Recorder keeps of a call.

Every routed call becomes one :class:`~slm_agents.CallRecord` of the *served* answer, with the
routing decision in its ``metadata``::

    {"route": "llm", "task": 3, "confidence": 0.91, "fallback_reason": "schema_violation",
     "decision_reason": "confident", "threshold": 0.5, "attempts": 2, "retried": true,
     "rejected_output": "<tool_call>...", "fallback_message": "arguments of 'f': ..."}

so an escalation is a training example for the next round (the LLM's answer to a call the
specialist got wrong). In shadow mode ``metadata["shadow"]`` also holds the specialist's answer
and whether it agreed with the LLM's.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from ..capture.openai_format import messages_from_openai, tools_from_openai
from ..records import CallRecord, Usage
from ..train.generation import Generation
from .policy import RouteDecision, RoutingCall
from .stage import StageOutcome

__all__ = ["RoutedGeneration", "build_record", "capture", "routed"]

logger = logging.getLogger("slm_agents")

#: Characters of a rejected specialist answer kept in a record's metadata.
MAX_REJECTED_CHARS = 4000


class RoutedGeneration(Generation):
    """A :class:`~slm_agents.train.Generation` with the routing decision that produced it.

    Attributes:
        route: ``"specialist"`` or ``"llm"``: who answered.
        task: The task the call was identified as (``None`` when unknown).
        confidence: The identification's confidence.
        reason: The decision's reason (see :class:`~slm_agents.route.RouteDecision`).
        fallback_reason: Why a specialist's answer was not served (``None`` when none was
            rejected): ``parse_error``, ``unknown_tool``, ``schema_violation``, ``empty``,
            ``validator``, ``exception``, ``timeout``.
        attempts: Specialist generations made for this call (samples and retries included).
        model_name: The model that answered.
        call_id: The call's id (also the captured record's id).
        trace_id: The trace the call belongs to.
        agreement: In shadow mode, whether the specialist agreed with the served LLM answer.

    ``latency_ms`` is the whole routed call, failed specialist attempts included.
    """

    route: str = "llm"
    task: Any = None
    confidence: float = 0.0
    reason: str = ""
    fallback_reason: str | None = None
    attempts: int = 0
    model_name: str | None = None
    call_id: str | None = None
    trace_id: str | None = None
    agreement: bool | None = None


def routed(generation: Generation, decision: RouteDecision, route: str, call: RoutingCall,
           outcome: StageOutcome | None, model_name: str, latency_ms: float,
           fallback: str | None = None, agreement: bool | None = None) -> RoutedGeneration:
    """Wrap a served answer (built without re-validating what the models returned)."""
    return RoutedGeneration.model_construct(
        text=generation.text, tool_calls=generation.tool_calls, raw=generation.raw,
        parse_error=generation.parse_error, input_tokens=generation.input_tokens,
        output_tokens=generation.output_tokens, latency_ms=latency_ms, route=route,
        task=decision.task, confidence=decision.confidence, reason=decision.reason,
        fallback_reason=fallback, attempts=outcome.attempts if outcome is not None else 0,
        model_name=model_name, call_id=call.call_id, trace_id=call.trace_id,
        agreement=agreement)


def _json_task(task: Any) -> Any:
    return task if task is None or isinstance(task, (str, int, float)) else str(task)


def _answer_dict(generation: Generation) -> dict[str, Any]:
    return {"text": generation.text,
            "tool_calls": [{"name": c.name, "arguments": c.arguments}
                           for c in generation.tool_calls],
            "raw": generation.raw[:MAX_REJECTED_CHARS]}


def build_record(call: RoutingCall, decision: RouteDecision, answer: RoutedGeneration | None,
                 outcome: StageOutcome | None, started_at: datetime, latency_ms: float, *,
                 error: BaseException | None = None, shadow: Generation | None = None,
                 served_model: str | None = None) -> CallRecord:
    """The CallRecord of one routed call (see the module docstring for its metadata)."""
    metadata: dict[str, Any] = {
        "route": answer.route if answer is not None else "llm",
        "task": _json_task(decision.task),
        "confidence": float(decision.confidence),
        "fallback_reason": None,
        "decision_reason": decision.reason,
        "threshold": decision.threshold if decision.threshold != float("inf") else None,
    }
    if outcome is not None:
        metadata["attempts"] = outcome.attempts
        if outcome.retried:
            metadata["retried"] = True
        if outcome.vote_share is not None:
            metadata["vote_share"] = outcome.vote_share
        if outcome.generation is None and shadow is None:
            metadata["fallback_reason"] = outcome.reason
            if outcome.first_reason:
                metadata["first_fallback_reason"] = outcome.first_reason
        if outcome.message:
            metadata["fallback_message"] = outcome.message[:1000]
        if outcome.rejected is not None:
            metadata["rejected_output"] = _answer_dict(outcome.rejected)["raw"]
    if shadow is not None or (answer is not None and answer.agreement is not None):
        metadata["shadow"] = {
            "specialist": _answer_dict(shadow) if shadow is not None else None,
            "specialist_fallback_reason": outcome.reason if outcome is not None else None,
            "agreement": answer.agreement if answer is not None else None,
        }
    record = call.record if call._record is not None else None
    messages = record.messages if record is not None else messages_from_openai(call.messages)
    fields: dict[str, Any] = {
        "trace_id": call.trace_id, "agent": call.agent, "model": served_model,
        "messages": messages, "tools": tools_from_openai(call.tools),
        "started_at": started_at, "latency_ms": latency_ms, "metadata": metadata,
        "tags": [f"route:{metadata['route']}"], "source": "router",
    }
    if call.call_id:
        fields["id"] = call.call_id
    if answer is not None:
        fields.update(output=answer.text, tool_calls=list(answer.tool_calls),
                      usage=Usage(input_tokens=answer.input_tokens or None,
                                  output_tokens=answer.output_tokens or None),
                      finish_reason="tool_calls" if answer.tool_calls else "stop")
    if error is not None:
        fields["error"] = f"{type(error).__name__}: {error}"[:2000]
    return CallRecord.model_construct(**fields)


def capture(recorder: Any, *args: Any, **kwargs: Any) -> None:
    """Build the record and hand it to the recorder; never raises into the router's caller."""
    if recorder is None:
        return
    try:
        recorder.record(build_record(*args, **kwargs))
    except Exception:  # capture must never break serving
        logger.exception("slm_agents router: could not capture a routed call")
