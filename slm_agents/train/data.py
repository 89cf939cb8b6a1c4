"""Turn chat examples into token ids and labels: the base model's chat template, loss on the answer.

:class:`ChatRenderer` renders a conversation with the base model's own chat template. When the
template renders tools and tool calls itself (Qwen 2.5/3, Llama 3.x, ...), it is given them
directly. Otherwise (SmolLM2's template knows neither), the conversation is rewritten first, in
the Hermes/Qwen convention our parser reads:

- the tools offered are appended to the system message (one is added when there is none) as
  ``You can call these tools:\\n<tools>\\n{spec}\\n...\\n</tools>`` plus one line on the format;
- an assistant turn's tool calls become
  ``<tool_call>\\n{"name": ..., "arguments": ...}\\n</tool_call>`` blocks in its content;
- tool results become a user turn of ``<tool_response>\\n...\\n</tool_response>`` blocks.

:func:`encode_example` makes one training row: the prompt (every turn but the last, with the
template's generation prompt) and the completion (the rest of the rendered conversation: the
final assistant turn and its end-of-turn token) are tokenised separately and concatenated, and
the prompt's labels are ``-100``. Only the final assistant turn carries loss: it is the LLM's
logged output; earlier assistant turns are context the model did not write. Tokenising the two
parts separately makes training see exactly the tokens that generation will see after the prompt.

Examples:
    >>> validate_examples([{"messages": [{"role": "user", "content": "hi"}]}] * 2)
    Traceback (most recent call last):
    ...
    slm_agents.errors.TrainingError: example 0: the last message must be an assistant turn, ...
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from ..curate.chat_format import template_messages
from ..errors import TrainingError
from .generation import format_tool_calls, tool_names

__all__ = [
    "MIN_EXAMPLES",
    "ChatRenderer",
    "EncodedSet",
    "encode_examples",
    "validate_examples",
]

logger = logging.getLogger("slm_agents")

MIN_EXAMPLES = 2
_ROLES = {"system", "user", "assistant", "tool", "developer"}
TOOLS_HEADER = "You can call these tools:"
TOOLS_FORMAT = ('To call a tool, answer with one block per call:\n<tool_call>\n'
                '{"name": <tool name>, "arguments": <JSON object>}\n</tool_call>')


class ChatRenderer:
    """Renders conversations with a tokenizer's chat template (see the module docstring).

    Args:
        tokenizer: A Hugging Face tokenizer with a chat template.

    Attributes:
        native_tools: Whether the template renders ``tools`` and ``tool_calls`` itself.
    """

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        template = tokenizer.chat_template
        if isinstance(template, dict):  # several named templates: the default one renders chats
            template = template.get("default") or next(iter(template.values()))
        source = template or ""
        self.native_tools = "tools" in source and "tool_calls" in source

    def _messages(self, messages: Sequence[Mapping[str, Any]],
                  tools: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
        if self.native_tools:
            converted = template_messages({"messages": list(messages)})
            for turn in converted:
                if turn.get("content") is None:
                    turn["content"] = ""
            return converted
        out: list[dict[str, Any]] = []
        for message in messages:
            role = message.get("role")
            content = message.get("content")
            text = content if isinstance(content, str) else ""
            if role == "tool":
                block = f"<tool_response>\n{text}\n</tool_response>"
                if out and out[-1].get("_tool_results"):
                    out[-1]["content"] += "\n" + block
                else:
                    out.append({"role": "user", "content": block, "_tool_results": True})
                continue
            if role == "assistant" and message.get("tool_calls"):
                calls = format_tool_calls(list(message["tool_calls"]))
                text = f"{text}\n{calls}" if text.strip() else calls
            # Templates without tool support rarely know OpenAI's "developer" role either.
            out.append({"role": "system" if role == "developer" else role, "content": text})
        for message in out:
            message.pop("_tool_results", None)
        if tools:
            # Compact JSON: every prompt token costs training and inference time.
            specs = "\n".join(json.dumps(dict(t), ensure_ascii=False, separators=(",", ":"))
                              for t in tools)
            block = f"{TOOLS_HEADER}\n<tools>\n{specs}\n</tools>\n{TOOLS_FORMAT}"
            if out and out[0]["role"] == "system":
                out[0] = {**out[0], "content": f"{out[0]['content']}\n\n{block}".lstrip()}
            else:
                out.insert(0, {"role": "system", "content": block})
        return out

    def render(self, messages: Sequence[Mapping[str, Any]],
               tools: Sequence[Mapping[str, Any]] | None = None, *,
               add_generation_prompt: bool = False) -> str:
        """The conversation as text (the template's own special tokens included)."""
        kwargs: dict[str, Any] = {}
        if self.native_tools and tools:
            kwargs["tools"] = [dict(t) for t in tools]
        try:
            return str(self.tokenizer.apply_chat_template(
                self._messages(messages, tools), tokenize=False,
                add_generation_prompt=add_generation_prompt, **kwargs))
        except Exception as exc:  # noqa: BLE001 - jinja raises template-specific errors
            raise TrainingError(f"the chat template cannot render this conversation: "
                                f"{exc}") from exc

    def prompt(self, messages: Sequence[Mapping[str, Any]],
               tools: Sequence[Mapping[str, Any]] | None = None) -> str:
        """The text a model continues to answer ``messages`` (with the generation prompt)."""
        return self.render(messages, tools, add_generation_prompt=True)

    def encode_prompt(self, messages: Sequence[Mapping[str, Any]],
                      tools: Sequence[Mapping[str, Any]] | None = None) -> list[int]:
        """Token ids of :meth:`prompt` (the template's text already holds any BOS token)."""
        return list(self.tokenizer(self.prompt(messages, tools),
                                   add_special_tokens=False)["input_ids"])

    def split(self, example: Mapping[str, Any]) -> tuple[str, str]:
        """``(prompt, completion)`` texts of an example; completion is the final assistant turn."""
        messages = example["messages"]
        tools = example.get("tools") or None
        prompt = self.render(messages[:-1], tools, add_generation_prompt=True)
        full = self.render(messages, tools)
        if not full.startswith(prompt):
            raise TrainingError(
                "the chat template renders the conversation differently with and without its "
                "last turn, so the answer's tokens cannot be told apart from the prompt's")
        completion = full[len(prompt):]
        eos = self.tokenizer.eos_token
        if eos and eos not in completion:
            # The model must learn to stop: some templates end a turn with a token other than
            # EOS, and generation stops on EOS.
            completion += eos
        return prompt, completion


def _check_calls(message: Mapping[str, Any], offered: list[str] | None, index: int,
                 turn: int) -> None:
    for call in message.get("tool_calls") or ():
        function = call.get("function", call) if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping):
            raise TrainingError(f"example {index}, message {turn}: a tool call is not an object")
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise TrainingError(f"example {index}, message {turn}: a tool call has no name")
        if offered is not None and name not in offered:
            raise TrainingError(
                f"example {index}, message {turn}: calls tool {name!r}, which the example does "
                f"not offer (offered: {', '.join(offered) or 'none'})")
        arguments = function.get("arguments", {})
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError as exc:
                raise TrainingError(f"example {index}, message {turn}: the arguments of "
                                    f"{name!r} are not JSON: {exc}") from exc
        if not isinstance(arguments, Mapping):
            raise TrainingError(f"example {index}, message {turn}: the arguments of {name!r} "
                                "are not a JSON object")


def validate_examples(examples: Sequence[Any], what: str = "training") -> None:
    """Check the shape of chat examples; raise :class:`TrainingError` naming the bad example.

    Requires at least :data:`MIN_EXAMPLES` (2) examples for training: one example cannot be
    split into steps or tell whether the loss falls. Every example needs a ``messages`` list
    whose last message is an assistant turn with content or tool calls; every tool call must
    name an offered tool (when the example offers tools) and carry a JSON-object argument.
    """
    if len(examples) == 0:
        raise TrainingError(f"the {what} set is empty: fine-tuning needs examples")
    if what == "training" and len(examples) < MIN_EXAMPLES:
        raise TrainingError(f"the training set has {len(examples)} example; fine-tuning needs at "
                            f"least {MIN_EXAMPLES} (and hundreds to learn a task well)")
    for index, example in enumerate(examples):
        if not isinstance(example, Mapping) or not isinstance(example.get("messages"), list):
            raise TrainingError(f"example {index}: expected a dict with a 'messages' list")
        messages = example["messages"]
        if not messages:
            raise TrainingError(f"example {index}: no messages")
        tools = example.get("tools")
        offered = tool_names(tools) if tools else None
        for turn, message in enumerate(messages):
            role = message.get("role") if isinstance(message, Mapping) else None
            if role not in _ROLES:
                raise TrainingError(f"example {index}, message {turn}: unknown role {role!r}; "
                                    f"roles are: {', '.join(sorted(_ROLES))}")
            if role == "assistant":
                # An example that offers no tools may still show calls in its history.
                _check_calls(message, offered, index, turn)
        last = messages[-1]
        if last.get("role") != "assistant":
            raise TrainingError(f"example {index}: the last message must be an assistant turn, "
                                f"not {last.get('role')!r}")
        if not last.get("tool_calls") and not (isinstance(last.get("content"), str)
                                               and last["content"].strip()):
            raise TrainingError(f"example {index}: the final assistant turn is empty")


class EncodedSet:
    """Token ids and labels of a set of examples, with what was dropped.

    Attributes:
        rows: ``{"input_ids": [...], "labels": [...]}`` per kept example.
        kept: Indices (into the input) of the kept examples.
        dropped_too_long: Indices of the examples longer than ``max_length`` tokens.
        n_tokens: Tokens in all kept rows.
        n_loss_tokens: Tokens that carry loss.
    """

    def __init__(self) -> None:
        self.rows: list[dict[str, list[int]]] = []
        self.kept: list[int] = []
        self.dropped_too_long: list[int] = []
        self.n_tokens = 0
        self.n_loss_tokens = 0

    def to_hf(self) -> Any:
        """The rows as a ``datasets.Dataset`` (columns ``input_ids``, ``labels``)."""
        from .models import require

        datasets = require("datasets", "fine-tuning")
        return datasets.Dataset.from_dict({
            "input_ids": [r["input_ids"] for r in self.rows],
            "labels": [r["labels"] for r in self.rows]})


def encode_example(renderer: ChatRenderer, example: Mapping[str, Any]) -> dict[str, list[int]]:
    """One training row: prompt and completion tokens, the prompt's labels set to ``-100``."""
    prompt, completion = renderer.split(example)
    tokenizer = renderer.tokenizer
    prompt_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    completion_ids = list(tokenizer(completion, add_special_tokens=False)["input_ids"])
    return {"input_ids": prompt_ids + completion_ids,
            "labels": [-100] * len(prompt_ids) + completion_ids}


def encode_examples(renderer: ChatRenderer, examples: Sequence[Mapping[str, Any]],
                    max_length: int, what: str = "training") -> EncodedSet:
    """Encode examples, dropping (and counting) those over ``max_length`` tokens.

    Raises:
        TrainingError: every example is too long.
    """
    encoded = EncodedSet()
    for index, example in enumerate(examples):
        row = encode_example(renderer, example)
        if len(row["input_ids"]) > max_length:
            encoded.dropped_too_long.append(index)
            continue
        encoded.rows.append(row)
        encoded.kept.append(index)
        encoded.n_tokens += len(row["input_ids"])
        encoded.n_loss_tokens += sum(1 for label in row["labels"] if label != -100)
    if encoded.dropped_too_long:
        logger.warning("dropped %d of %d %s examples longer than max_length=%d tokens "
                       "(first: example %d)", len(encoded.dropped_too_long), len(examples), what,
                       max_length, encoded.dropped_too_long[0])
    if not encoded.rows:
        raise TrainingError(f"all {len(examples)} {what} examples are longer than "
                            f"max_length={max_length} tokens; raise "
                            "TrainingSettings.max_length or shorten the prompts")
    return encoded


def as_examples(data: Any, what: str = "training") -> list[dict[str, Any]]:
    """The chat examples of a :class:`~slm_agents.Dataset` (or anything with ``.examples``) or a
    list of example dicts."""
    examples = getattr(data, "examples", None)
    if examples is not None:
        return list(examples)
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise TrainingError(f"the {what} data must be a slm_agents Dataset, DatasetSplits or a "
                            f"list of chat example dicts, not {type(data).__name__}")
    return list(data)
