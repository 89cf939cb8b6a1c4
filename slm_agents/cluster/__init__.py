"""Step S3, task discovery: cluster an agent's LLM calls into the tasks they perform.

- :class:`TaskClusterer`: scikit-learn style (``fit``, ``labels_``, ``predict``,
  ``predict_with_confidence``, ``assign`` for one call on the router's hot path, ``report``,
  ``save``/``load``). A call is its embedded variable content plus its structure (agent, masked
  system-prompt template, tools offered, output kind), each signal weighted.
- Swappable stages: :class:`MiniLMEmbedder` (default, offline), :class:`HashingEmbedder` (no torch),
  :class:`PCAReducer` (default), :class:`NoReduction`, :class:`SilhouetteAgglomerative` (default
  within each context of alike calls), :class:`AutoHDBSCAN` (default when all calls share one
  context); granularity chosen from the data.
- :class:`ClusterReport`: per task size, share of calls, tokens, cost, examples; HTML/Markdown.

Importing this package is light: numpy, scikit-learn, UMAP, HDBSCAN and torch load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "AutoHDBSCAN": "slm_agents.cluster.stages",
    "CallView": "slm_agents.cluster.features",
    "ClusterReport": "slm_agents.cluster.report",
    "EmbeddingCache": "slm_agents.cluster.embedders",
    "HashingEmbedder": "slm_agents.cluster.embedders",
    "MiniLMEmbedder": "slm_agents.cluster.embedders",
    "NoReduction": "slm_agents.cluster.stages",
    "PCAReducer": "slm_agents.cluster.stages",
    "SilhouetteAgglomerative": "slm_agents.cluster.stages",
    "Prices": "slm_agents.cluster.report",
    "TaskClusterer": "slm_agents.cluster.clusterer",
    "TaskStats": "slm_agents.cluster.report",
    "TaskSummaryInput": "slm_agents.cluster.naming",
    "mask_template": "slm_agents.cluster.features",
}

__all__ = sorted(_LAZY)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from .clusterer import TaskClusterer  # noqa: F401
    from .embedders import EmbeddingCache, HashingEmbedder, MiniLMEmbedder  # noqa: F401
    from .features import CallView, mask_template  # noqa: F401
    from .naming import TaskSummaryInput  # noqa: F401
    from .report import ClusterReport, Prices, TaskStats  # noqa: F401
    from .stages import (  # noqa: F401
        AutoHDBSCAN,
        NoReduction,
        PCAReducer,
        SilhouetteAgglomerative,
    )


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'slm_agents.cluster' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value  # cache: later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
