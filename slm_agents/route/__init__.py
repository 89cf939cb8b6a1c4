"""Step S6 in service: route each call to its task's specialist, escalating to the LLM.

Importing this package is light (no framework, no torch): names resolve on first use (PEP 562).

Examples:
    >>> from slm_agents.route import Router
    >>> router = Router(lambda messages, tools: "LLM answer",
    ...                 specialists={"faq": lambda messages, tools: "specialist answer"},
    ...                 policy=lambda call: ("faq", 0.9), thresholds=0.8)
    >>> router.invoke("What are your opening hours?").route
    'specialist'
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# public name -> module that defines it
_LAZY: dict[str, str] = {
    "Router": "slm_agents.route.router",
    "RoutedGeneration": "slm_agents.route.result",
    "RouteDecision": "slm_agents.route.policy",
    "RoutingCall": "slm_agents.route.policy",
    "RoutingPolicy": "slm_agents.route.policy",
    "ClustererPolicy": "slm_agents.route.policy",
    "CallablePolicy": "slm_agents.route.policy",
    "MappingPolicy": "slm_agents.route.policy",
    "RouterStats": "slm_agents.route.stats",
    "RoutePrices": "slm_agents.route.stats",
    "Price": "slm_agents.route.stats",
    "CalibrationResult": "slm_agents.route.calibration",
    "CalibrationRow": "slm_agents.route.calibration",
    "CurvePoint": "slm_agents.route.calibration",
    "TaskCalibration": "slm_agents.route.calibration",
    "calibration_rows": "slm_agents.route.calibration",
    "choose_thresholds": "slm_agents.route.calibration",
    "replay": "slm_agents.route.calibration",
    "OpenAICompatible": "slm_agents.route.endpoint",
    "ToolContract": "slm_agents.route.validation",
    "answers_agree": "slm_agents.route.validation",
    "canonical_answer": "slm_agents.route.validation",
    "check_generation": "slm_agents.route.validation",
    "compile_schema": "slm_agents.route.validation",
}

__all__ = [
    "CalibrationResult",
    "CalibrationRow",
    "CallablePolicy",
    "ClustererPolicy",
    "CurvePoint",
    "MappingPolicy",
    "OpenAICompatible",
    "Price",
    "RouteDecision",
    "RoutePrices",
    "RoutedGeneration",
    "Router",
    "RouterStats",
    "RoutingCall",
    "RoutingPolicy",
    "TaskCalibration",
    "ToolContract",
    "answers_agree",
    "calibration_rows",
    "canonical_answer",
    "check_generation",
    "choose_thresholds",
    "compile_schema",
    "replay",
]

if TYPE_CHECKING:  # pragma: no cover
    from .calibration import (
        CalibrationResult,
        CalibrationRow,
        CurvePoint,
        TaskCalibration,
        calibration_rows,
        choose_thresholds,
        replay,
    )
    from .endpoint import OpenAICompatible
    from .policy import (
        CallablePolicy,
        ClustererPolicy,
        MappingPolicy,
        RouteDecision,
        RoutingCall,
        RoutingPolicy,
    )
    from .result import RoutedGeneration
    from .router import Router
    from .stats import Price, RoutePrices, RouterStats
    from .validation import (
        ToolContract,
        answers_agree,
        canonical_answer,
        check_generation,
        compile_schema,
    )


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        raise AttributeError(f"module 'slm_agents.route' has no attribute {name!r}")
    value = getattr(importlib.import_module(module_name), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
