"""The replacement-potential report: which of an agent's LLM calls small models can take over.

- :func:`replacement_report`: from an agent's logs (records, or a store), per task the share of
  calls and tokens, LLM cost vs specialist cost, measured quality where a specialist exists and
  predicted replaceability where none does yet, a verdict with its reason, and the overall
  replaceable share and monthly savings. Returns a :class:`ReplacementReport` (``summary()``,
  ``to_markdown()``, ``to_html(path)``, ``to_pandas()``, ``to_dict()``/``from_dict()``).
- :class:`ReplaceabilityRule`: the documented formula of the prediction (:mod:`.predict`).

Importing this package is light; numpy, scikit-learn and matplotlib load on first use.

Examples:
    >>> import slm_agents.report as rep
    >>> rep.VERDICTS
    ('replaceable now', 'likely replaceable', 'keep on LLM')
"""

from __future__ import annotations

from .predict import Prediction, ReplaceabilityRule
from .replacement import (
    DAYS_PER_MONTH,
    KEEP_ON_LLM,
    LIKELY_REPLACEABLE,
    REPLACEABLE_NOW,
    VERDICTS,
    ReplacementReport,
    TaskReplacement,
    replacement_report,
)

__all__ = [
    "DAYS_PER_MONTH",
    "KEEP_ON_LLM",
    "LIKELY_REPLACEABLE",
    "REPLACEABLE_NOW",
    "VERDICTS",
    "Prediction",
    "ReplaceabilityRule",
    "ReplacementReport",
    "TaskReplacement",
    "replacement_report",
]
