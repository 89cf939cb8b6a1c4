"""The demo behind ``slm-agents demo``: a small multi-agent LangChain application, run offline.

:mod:`.workload` makes the user requests and the answers a capable LLM would give (no framework);
:mod:`.app` is the LangChain application whose model calls are captured;
:mod:`.run` drives it through capture into an encrypted store and summarises what was captured.
"""

from __future__ import annotations

from .run import DemoResult, run_demo

__all__ = ["DemoResult", "run_demo"]
