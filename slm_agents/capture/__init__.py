"""Step S1, capture: record every non-human-facing LLM call of an agent.

:class:`Recorder` is the one pipeline every hook feeds (LangChain callbacks, the LlamaIndex
instrumentation handler, the :meth:`Recorder.trace` decorator). Nothing here imports a framework;
the framework hooks live in :mod:`slm_agents.integrations` and are imported on first use.
"""

from __future__ import annotations

from .options import CaptureOptions
from .recorder import CaptureStats, PendingCall, Recorder, RecordSink, Scrubber

__all__ = ["CaptureOptions", "CaptureStats", "PendingCall", "RecordSink", "Recorder", "Scrubber"]
