"""The demo's settings: ``default`` (real quality), ``fast`` (minutes on two cores), ``tiny``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..errors import ConfigError

__all__ = ["MODES", "DemoSettings", "settings_for"]


@dataclass(frozen=True)
class DemoSettings:
    """How much work each stage of the demo does.

    Attributes:
        mode: ``"default"``, ``"fast"`` or ``"tiny"``.
        requests: User requests simulated (three LLM calls each).
        tasks: Specialists trained: the largest tasks whose examples fit ``max_length``.
        max_steps: Optimiser steps per specialist.
        batch_size: Examples per forward pass.
        grad_accum: Forward passes whose gradients add up to one step (the effective batch is
            ``batch_size * grad_accum``; small passes keep memory low).
        learning_rate: Peak learning rate of the LoRA adapter.
        max_length: Longest training example in tokens (tasks whose examples are longer wait
            for a setting with a larger one).
        lora_r: LoRA rank.
        eval_examples: Held-out calls each specialist is evaluated on.
        baseline_examples: Held-out calls the base model is evaluated on zero-shot.
        replay_calls: Held-out calls (whole traces) the router replays.
        embedder: ``"minilm"`` (the offline MiniLM) or ``"hashing"`` (no torch; for tests).
        min_task_examples: Training examples a task needs to get a specialist.
        base_model: The base model: the ``"smollm2-135m"`` alias, or a local folder.
        torch_threads: Threads torch may use; ``None``: all cores, or one when the machine is
            already busy (load average at least the number of cores).
    """

    mode: str
    requests: int
    tasks: int
    max_steps: int
    batch_size: int
    grad_accum: int
    learning_rate: float
    max_length: int
    lora_r: int
    eval_examples: int
    baseline_examples: int
    replay_calls: int
    embedder: str = "minilm"
    min_task_examples: int = 20
    base_model: str = "smollm2-135m"
    torch_threads: int | None = None

    @property
    def calls(self) -> int:
        """LLM calls the agents make (three per request)."""
        return 3 * self.requests


MODES: dict[str, DemoSettings] = {
    # Real quality: three specialists, tool-calling tasks included (prompts of ~400 tokens).
    "default": DemoSettings(
        "default", requests=1000, tasks=3, max_steps=100, batch_size=4, grad_accum=2,
        learning_rate=5e-4, max_length=768, lora_r=16, eval_examples=100, baseline_examples=20,
        replay_calls=600),
    # Minutes on two CPU cores: specialists for the two largest tasks with short prompts.
    "fast": DemoSettings(
        "fast", requests=700, tasks=2, max_steps=10, batch_size=4, grad_accum=1,
        learning_rate=1e-3, max_length=128, lora_r=8, eval_examples=20, baseline_examples=4,
        replay_calls=150),
    # Tests only: a tiny random model, fewer calls, the hashing embedder.
    "tiny": DemoSettings(
        "tiny", requests=60, tasks=1, max_steps=2, batch_size=4, grad_accum=1,
        learning_rate=1e-3, max_length=256, lora_r=4, eval_examples=4, baseline_examples=2,
        replay_calls=24, embedder="hashing", min_task_examples=4),
}


def settings_for(fast: bool = False, tiny: bool = False, **overrides: Any) -> DemoSettings:
    """The settings of a mode (``tiny`` wins over ``fast``), with fields replaced.

    Raises:
        ConfigError: an unknown field, or a value out of range.
    """
    base = MODES["tiny" if tiny else "fast" if fast else "default"]
    known = set(base.__dataclass_fields__)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ConfigError(f"unknown demo setting(s) {unknown}; valid: {', '.join(sorted(known))}")
    settings = replace(base, **{k: v for k, v in overrides.items() if v is not None})
    for name in ("requests", "tasks", "max_steps", "batch_size", "grad_accum", "max_length",
                 "eval_examples",
                 "replay_calls", "min_task_examples", "lora_r"):
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer; got {value!r}")
    threads = settings.torch_threads
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int)
                                or threads < 1):
        raise ConfigError(f"torch_threads must be None or a positive integer; got {threads!r}")
    if settings.embedder not in ("minilm", "hashing"):
        raise ConfigError(f"embedder must be 'minilm' or 'hashing'; got {settings.embedder!r}")
    return settings
