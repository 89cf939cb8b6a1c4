"""The demo behind ``slm-agents demo``: a multi-agent LangChain application, run offline.

:mod:`.workload` makes the user requests and the answers a capable LLM would give (no framework);
:mod:`.app` is the LangChain application whose model calls are captured; :mod:`.capture` runs it
into an encrypted store; :mod:`.stages`, :mod:`.replay` and :mod:`.page` are the later steps, and
:mod:`.pipeline` (:func:`run_demo`) drives them all.
"""

from __future__ import annotations

from .capture import CaptureResult, capture_calls
from .pipeline import DemoResult, run_demo
from .settings import MODES, DemoSettings, settings_for

__all__ = ["MODES", "CaptureResult", "DemoResult", "DemoSettings", "capture_calls", "run_demo",
           "settings_for"]
