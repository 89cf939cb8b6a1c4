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
    "TaskClusterer": "slm_agents.cluster",
    "ClusterReport": "slm_agents.cluster",
    "HashingEmbedder": "slm_agents.cluster",
    "MiniLMEmbedder": "slm_agents.cluster",
    "NoReduction": "slm_agents.cluster",
    "ModelCatalog": "slm_agents.select",
    "ModelCard": "slm_agents.select",
    "MemoryEstimate": "slm_agents.select",
    "CostEstimate": "slm_agents.select",
    "Selection": "slm_agents.select",
    "estimate_memory": "slm_agents.select",
    "estimate_cost": "slm_agents.select",
    "FineTuner": "slm_agents.train",
    "Specialist": "slm_agents.train",
    "Generation": "slm_agents.train",
    "LoraSettings": "slm_agents.train",
    "QuantizationSettings": "slm_agents.train",
    "TrainingSettings": "slm_agents.train",
    "evaluate": "slm_agents.evaluate",
    "EvalReport": "slm_agents.evaluate",
    "Router": "slm_agents.route",
    "RoutedGeneration": "slm_agents.route",
    "RouteDecision": "slm_agents.route",
    "RoutingPolicy": "slm_agents.route",
    "RouterStats": "slm_agents.route",
    "CalibrationResult": "slm_agents.route",
    "OpenAICompatible": "slm_agents.route",
    "Flywheel": "slm_agents.refine",
    "ModelRegistry": "slm_agents.refine",
    "RegistrySpecialists": "slm_agents.refine",
    "RoundReport": "slm_agents.refine",
    "VersionInfo": "slm_agents.refine",
    "replacement_report": "slm_agents.report",
    "ReplacementReport": "slm_agents.report",
    "TaskReplacement": "slm_agents.report",
    "ReplaceabilityRule": "slm_agents.report",
    "errors": "slm_agents.errors",
}

__all__ = sorted([*_LAZY, "__version__"])

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from . import errors
    from .capture import CaptureStats, Recorder
    from .cluster import ClusterReport, HashingEmbedder, MiniLMEmbedder, NoReduction, TaskClusterer
    from .curate import CurationReport, Curator, Dataset, DatasetSplits, PIIScrubber, Span
    from .evaluate import EvalReport, evaluate
    from .records import CallRecord, Message, ToolCall, Usage
    from .refine import Flywheel, ModelRegistry, RegistrySpecialists, RoundReport, VersionInfo
    from .report import ReplaceabilityRule, ReplacementReport, TaskReplacement, replacement_report
    from .route import (
        CalibrationResult,
        OpenAICompatible,
        RouteDecision,
        RoutedGeneration,
        Router,
        RouterStats,
        RoutingPolicy,
    )
    from .select import (
        CostEstimate,
        MemoryEstimate,
        ModelCard,
        ModelCatalog,
        Selection,
        estimate_cost,
        estimate_memory,
    )
    from .store import AuditEntry, IntegrityReport, Store, generate_key
    from .train import (
        FineTuner,
        Generation,
        LoraSettings,
        QuantizationSettings,
        Specialist,
        TrainingSettings,
    )


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
