"""Step S5, evaluation: score a model's answers against the LLM's logged ones.

- :func:`evaluate`: run any model with ``generate(messages, tools=None)`` (a
  :class:`~slm_agents.train.Specialist`, an LLM wrapper) over a dataset and return an
  :class:`EvalReport`.
- :class:`EvalReport`: metrics with bootstrap intervals, latency, tokens/s, cost per 1K calls,
  per-task breakdown and per-example results; JSON round trip, Markdown, and
  :meth:`EvalReport.beats` (a paired bootstrap) for promotion decisions.
- :mod:`slm_agents.evaluate.metrics`: the metric functions, usable on their own (tool-call
  scoring as the Berkeley Function Calling Leaderboard's AST checker does it, schema validity,
  exact match, token F1).

numpy (for the bootstrap) is imported on first use.

Examples:
    >>> from slm_agents.evaluate import evaluate, EvalReport
    >>> from slm_agents.train.generation import Generation
    >>> class Parrot:
    ...     def generate(self, messages, tools=None, **kwargs):
    ...         return Generation(text="4")
    >>> report = evaluate(Parrot(), [{"messages": [{"role": "user", "content": "2+2"},
    ...                                            {"role": "assistant", "content": "4"}]}],
    ...                   bootstrap=0)
    >>> report.agreement, report.exact_match
    (1.0, 1.0)
"""

from __future__ import annotations

from .metrics import (
    argument_match,
    exact_match,
    schema_errors,
    score_tool_calls,
    token_f1,
    values_match,
)
from .report import METRICS, Comparison, Estimate, EvalReport, ExampleResult, Prices
from .runner import evaluate, score_example

__all__ = [
    "METRICS",
    "Comparison",
    "Estimate",
    "EvalReport",
    "ExampleResult",
    "Prices",
    "argument_match",
    "evaluate",
    "exact_match",
    "schema_errors",
    "score_example",
    "score_tool_calls",
    "token_f1",
    "values_match",
]
