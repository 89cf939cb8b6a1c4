"""Step S4: choose the small model: a catalog, memory and cost estimates, selection, probing.

* :class:`ModelCatalog` / :class:`ModelCard`: the SLMs recommended for agents, with size, shape,
  licence, context length, tool support, published agent scores and whether they are installed.
* :func:`estimate_memory`: weights at fp32/bf16/int8/nf4, KV cache, LoRA/QLoRA/full training.
* :func:`estimate_cost`: latency, throughput and dollars per 1,000 calls, against an LLM's prices.
* :meth:`ModelCatalog.select`: the cards that meet a budget, licence, context and tool needs,
  ranked, with the reasons for every card dropped.
* :meth:`ModelCatalog.probe`: zero- and few-shot evaluation of installed candidates on the
  task's own data (needs the ``train`` extra).

Everything here but probing is pure Python: importing this package never imports torch.

Examples:
    >>> from slm_agents.select import ModelCatalog, estimate_memory
    >>> catalog = ModelCatalog.default()
    >>> est = estimate_memory(catalog["qwen2.5-1.5b"], "nf4", context=2048, training="qlora")
    >>> est.total_gib < 8
    True
"""

from __future__ import annotations

from .cards import LICENSES, ModelCard, Score, commercial_use_of, estimate_params
from .catalog import ModelCatalog, UnknownModelError
from .cost import HARDWARE, CostEstimate, Hardware, estimate_cost
from .memory import DTYPE_BYTES, MemoryEstimate, estimate_memory, kv_cache_bytes, lora_params
from .probe import ProbeResult, few_shot_examples, probe
from .selection import DEFAULT_WEIGHTS, Candidate, Rejection, Selection, task_needs

__all__ = [
    "DEFAULT_WEIGHTS",
    "DTYPE_BYTES",
    "HARDWARE",
    "LICENSES",
    "Candidate",
    "CostEstimate",
    "Hardware",
    "MemoryEstimate",
    "ModelCard",
    "ModelCatalog",
    "ProbeResult",
    "Rejection",
    "Score",
    "Selection",
    "UnknownModelError",
    "commercial_use_of",
    "estimate_cost",
    "estimate_memory",
    "estimate_params",
    "few_shot_examples",
    "kv_cache_bytes",
    "lora_params",
    "probe",
    "task_needs",
]
