"""slm_agents: turn an agent's repetitive LLM calls into cheap, specialised small-model calls.

Importing the package is light: nothing heavy (torch, scikit-learn, Presidio, LangChain,
LlamaIndex) is imported until a feature that needs it is used. Public names resolve lazily
(PEP 562), so ``slm_agents.Store`` imports the store module on first use.

Examples:
    >>> import slm_agents as sa
    >>> key = sa.generate_key()
    >>> key.startswith("slm-admin-")
    True
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

# A library never configures logging for its host: only a NullHandler on our own logger.
logging.getLogger("slm_agents").addHandler(logging.NullHandler())

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "CallRecord": "slm_agents.records",
    "Message": "slm_agents.records",
    "ToolCall": "slm_agents.records",
    "Usage": "slm_agents.records",
    "Store": "slm_agents.store",
    "AuditEntry": "slm_agents.store",
    "IntegrityReport": "slm_agents.store",
    "generate_key": "slm_agents.store",
    "Recorder": "slm_agents.capture",
    "CaptureStats": "slm_agents.capture",
    "PIIScrubber": "slm_agents.curate",
    "Span": "slm_agents.curate",
    "Curator": "slm_agents.curate",
    "Dataset": "slm_agents.curate",
    "DatasetSplits": "slm_agents.curate",
    "CurationReport": "slm_agents.curate",
    "errors": "slm_agents.errors",
}

__all__ = sorted([*_LAZY, "__version__"])

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import errors
    from .capture import CaptureStats, Recorder
    from .curate import CurationReport, Curator, Dataset, DatasetSplits, PIIScrubber, Span
    from .records import CallRecord, Message, ToolCall, Usage
    from .store import AuditEntry, IntegrityReport, Store, generate_key


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'slm_agents' has no attribute {name!r}")
    module = importlib.import_module(module_name)
    value = module if name == "errors" else getattr(module, name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
