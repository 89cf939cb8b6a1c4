"""Step S6, continuous refinement: retrain, evaluate, promote and roll back specialists.

- :class:`Flywheel`: one round (:meth:`Flywheel.run_once`) reads the records that arrived since
  the last round, assigns them to tasks, checks for drift, retrains the tasks that gained enough
  data or escalations, evaluates each candidate against the LLM's answers and the current
  specialist, and promotes it only when it wins with statistical confidence. Returns a
  :class:`RoundReport`.
- :class:`ModelRegistry`: every specialist version per task on disk (data window, metrics,
  parent, status), crash-safe; promote and roll back.
- :class:`RegistrySpecialists`: a ``{task: model}`` view of a registry for
  :class:`~slm_agents.route.Router` that picks up promotions and rollbacks without a restart.
- :mod:`slm_agents.refine.drift`: unassigned share, new dense regions, tasks whose inputs moved.

Importing this package is light; numpy, scikit-learn and the trainer load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "DataWindow": "slm_agents.refine.versions",
    "DriftReport": "slm_agents.refine.drift",
    "DriftThresholds": "slm_agents.refine.drift",
    "Flywheel": "slm_agents.refine.flywheel",
    "ModelRegistry": "slm_agents.refine.registry",
    "RegistrySpecialists": "slm_agents.refine.specialists",
    "RoundReport": "slm_agents.refine.report",
    "TaskAssigner": "slm_agents.refine.tasks",
    "TaskDecision": "slm_agents.refine.report",
    "VersionInfo": "slm_agents.refine.versions",
}

__all__ = [
    "DataWindow",
    "DriftReport",
    "DriftThresholds",
    "Flywheel",
    "ModelRegistry",
    "RegistrySpecialists",
    "RoundReport",
    "TaskAssigner",
    "TaskDecision",
    "VersionInfo",
]

if TYPE_CHECKING:  # pragma: no cover
    from .drift import DriftReport, DriftThresholds
    from .flywheel import Flywheel
    from .registry import ModelRegistry
    from .report import RoundReport, TaskDecision
    from .specialists import RegistrySpecialists
    from .tasks import TaskAssigner
    from .versions import DataWindow, VersionInfo


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'slm_agents.refine' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
