"""Step S5: fine-tune a small model on a task's logged calls, and serve it as a Specialist.

Importing this package is light: the trainer and the model code (torch, transformers, peft,
TRL) load on first use of a name that needs them (PEP 562), and
:mod:`slm_agents.train.generation` is pure Python.

Examples:
    >>> from slm_agents.train import LoraSettings
    >>> LoraSettings(r=8).lora_alpha
    16
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "Generation": "slm_agents.train.generation",
    "GenerativeModel": "slm_agents.train.generation",
    "example_reference": "slm_agents.train.generation",
    "format_tool_calls": "slm_agents.train.generation",
    "parse_tool_output": "slm_agents.train.generation",
    "LoraSettings": "slm_agents.train.config",
    "QuantizationSettings": "slm_agents.train.config",
    "TrainingSettings": "slm_agents.train.config",
    "BaseModelSpec": "slm_agents.train.models",
    "resolve_base_model": "slm_agents.train.models",
    "FineTuner": "slm_agents.train.finetuner",
    "Specialist": "slm_agents.train.specialist",
}

__all__ = [
    "BaseModelSpec",
    "FineTuner",
    "Generation",
    "GenerativeModel",
    "LoraSettings",
    "QuantizationSettings",
    "Specialist",
    "TrainingSettings",
    "example_reference",
    "format_tool_calls",
    "parse_tool_output",
    "resolve_base_model",
]

if TYPE_CHECKING:  # pragma: no cover
    from .config import LoraSettings, QuantizationSettings, TrainingSettings
    from .finetuner import FineTuner
    from .generation import (
        Generation,
        GenerativeModel,
        example_reference,
        format_tool_calls,
        parse_tool_output,
    )
    from .models import BaseModelSpec, resolve_base_model
    from .specialist import Specialist


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'slm_agents.train' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
