"""The record vocabulary every step shares: one LLM call is one :class:`CallRecord`.

Field names follow the OpenTelemetry GenAI semantic conventions where one exists
(``gen_ai.request.model`` → ``model``, ``gen_ai.usage.input_tokens`` → ``usage.input_tokens``,
``gen_ai.tool.definitions`` → ``tools``, ``gen_ai.response.finish_reasons`` →
``finish_reason``), and
hold what curation and training need: the full input messages, the tools offered (JSON schema),
the output text and tool calls, latency, usage, the error, and the call's place in its trace.

Records round-trip losslessly through JSON::

    >>> rec = CallRecord(messages=[Message(role="user", content="hi")], output="hello")
    >>> CallRecord.from_json(rec.to_json()) == rec
    True
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import InvalidRecordError

__all__ = ["CallRecord", "Message", "ToolCall", "Usage", "new_id", "utcnow"]

SCHEMA_VERSION = 1


def new_id() -> str:
    """A new random record id (UUID4, hex with dashes)."""
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (records never hold naive local times)."""
    return datetime.now(timezone.utc)


class _Model(BaseModel):
    # extra="forbid": a misspelt field is an error, not silently dropped data.
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class ToolCall(_Model):
    """One tool (function) call requested by the model.

    ``arguments`` is the parsed JSON object. When the model produced arguments that do not parse
    as a JSON object, ``arguments`` is empty and the text is kept verbatim in ``raw_arguments``
    with the reason in ``error`` (curation drops or repairs such calls; capture never loses them).
    """

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None
    raw_arguments: str | None = None
    error: str | None = None


class Message(_Model):
    """One chat message in OpenAI's roles: ``system``, ``user``, ``assistant``, ``tool``.

    ``content`` is the text (``None`` for an assistant turn that only calls tools). Non-text parts
    of multimodal content are kept in ``metadata["parts"]``.
    """

    role: str
    content: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)


class Usage(_Model):
    """Token usage of one call (``None`` where the provider did not report it)."""

    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    reasoning_tokens: int | None = None

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens, counting unknown counts as zero."""
        return (self.input_tokens or 0) + (self.output_tokens or 0)


class CallRecord(_Model):
    """One LLM call, as captured from an agent.

    Attributes:
        id: Unique id of this call (the framework's run or span id when there is one).
        trace_id: Id of the outermost run this call belongs to (one agent step / conversation).
        parent_id: Id of the run that directly contains this call (a chain, agent or tool run).
        agent: Name of the agent (or agent role) that made the call.
        model: Model name requested (``gen_ai.request.model``).
        provider: Provider name (``gen_ai.provider.name``), e.g. ``"openai"``.
        operation: ``"chat"`` or ``"completion"`` (``gen_ai.operation.name``).
        messages: The full input conversation.
        tools: JSON-schema tool specs offered to the model (OpenAI ``{"type": "function", ...}``).
        output: The output text (``None`` when the call only produced tool calls or failed).
        tool_calls: Tool calls in the output.
        usage: Token counts.
        latency_ms: Wall-clock time from request to complete response.
        time_to_first_token_ms: For streamed calls, time until the first chunk.
        started_at: When the call started (UTC).
        error: The error text when the call failed.
        finish_reason: Why generation stopped (``stop``, ``length``, ``tool_calls``...).
        request_params: Sampling parameters (temperature, max_tokens, top_p, stop...).
        human_facing: Whether the output was shown to a person (excluded from training by default).
        tags: Free-form labels (from the framework's tags or the decorator).
        metadata: Anything else; JSON values only.
        source: Which hook captured it: ``"langchain"``, ``"llama_index"`` or ``"trace"``.
    """

    id: str = Field(default_factory=new_id)
    trace_id: str | None = None
    parent_id: str | None = None
    agent: str | None = None
    model: str | None = None
    provider: str | None = None
    operation: str = "chat"
    messages: list[Message] = Field(default_factory=list)
    tools: list[dict[str, Any]] = Field(default_factory=list)
    output: str | None = None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    usage: Usage = Field(default_factory=Usage)
    latency_ms: float | None = None
    time_to_first_token_ms: float | None = None
    started_at: datetime = Field(default_factory=utcnow)
    error: str | None = None
    finish_reason: str | None = None
    request_params: dict[str, Any] = Field(default_factory=dict)
    human_facing: bool = False
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    source: str | None = None
    schema_version: int = SCHEMA_VERSION

    @field_validator("started_at")
    @classmethod
    def _aware_utc(cls, value: datetime) -> datetime:
        # A naive datetime is taken as UTC so that comparisons with time filters never mix kinds.
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)

    @property
    def succeeded(self) -> bool:
        """True when the call returned without error."""
        return self.error is None

    @property
    def tool_names(self) -> list[str]:
        """Names of the tools offered, in order."""
        names = []
        for spec in self.tools:
            fn = spec.get("function", spec) if isinstance(spec, dict) else {}
            name = fn.get("name") if isinstance(fn, dict) else None
            if name:
                names.append(str(name))
        return names

    def to_json(self) -> str:
        """Serialise to a JSON string (lossless; :meth:`from_json` reads it back)."""
        return self.model_dump_json()

    def to_json_bytes(self) -> bytes:
        """Serialise to UTF-8 JSON bytes (the store's payload format)."""
        return self.__pydantic_serializer__.to_json(self)

    @classmethod
    def from_json(cls, data: str | bytes) -> CallRecord:
        """Parse a record serialised by :meth:`to_json`.

        Raises:
            InvalidRecordError: the text is not a valid record.
        """
        try:
            return cls.model_validate_json(data)
        except ValidationError as exc:
            raise InvalidRecordError(f"not a valid CallRecord: {exc}") from exc
