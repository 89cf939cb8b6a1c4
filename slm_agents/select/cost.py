"""Throughput and cost per 1,000 calls of a small model, from its size and the calls' tokens.

The model is a roofline, good to an order of magnitude:

* **prefill** (reading the prompt) is compute-bound: ``2 × params × input_tokens`` FLOPs at the
  hardware's *effective* FLOP/s;
* **decode** (writing the answer) is memory-bandwidth-bound at small batch: every new token reads
  all weights once, so a step takes ``max(weight_bytes / bandwidth, 2 × params × batch / FLOP/s)``
  and serves ``batch`` sequences;
* the machine costs ``price_per_hour`` while it works, so ``cost per call = seconds per call /
  3600 × price_per_hour`` (full utilisation: idle time is not counted).

:data:`HARDWARE` holds documented default machines with *effective* (not peak) figures; they are
rough assumptions, to be replaced with your own measurements or prices through
:class:`Hardware`. Compare with an LLM by passing its prices per 1,000 tokens.

Examples:
    >>> est = estimate_cost("smollm2-135m", input_tokens=500, output_tokens=50,
    ...                     llm_prices=(0.0025, 0.01))
    >>> est.cost_per_1k_calls < est.llm_cost_per_1k_calls
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ConfigError
from .cards import ModelCard
from .memory import _card, estimate_memory

__all__ = ["HARDWARE", "CostEstimate", "Hardware", "estimate_cost"]


class Hardware(BaseModel):
    """A serving machine, by its effective speed and its price.

    Attributes:
        name: A label.
        flops: Effective FLOP/s reached on matrix products at the serving precision.
        bandwidth: Effective memory bandwidth in bytes/s.
        price_per_hour: US dollars per hour.
        memory_gib: Memory available to the model (informative).

    Examples:
        >>> Hardware(name="mine", flops=1e12, bandwidth=5e10, price_per_hour=0.2).name
        'mine'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    flops: float = Field(gt=0, allow_inf_nan=False)
    bandwidth: float = Field(gt=0, allow_inf_nan=False)
    price_per_hour: float = Field(ge=0, allow_inf_nan=False)
    memory_gib: float | None = Field(default=None, gt=0)


#: Default machines. Effective figures are ~40% of peak FLOP/s and ~70% of peak bandwidth;
#: prices are typical on-demand cloud list prices (2024-2025) and vary by provider and region.
HARDWARE: dict[str, Hardware] = {
    # 2 vCPUs (e.g. AWS c6i.large, $0.085/h): AVX-512 fp32 matmul, DDR4 bandwidth share.
    "cpu-2core": Hardware(name="cpu-2core", flops=50e9, bandwidth=10e9, price_per_hour=0.085,
                          memory_gib=4),
    # 16 vCPUs (e.g. AWS c6i.4xlarge, $0.68/h).
    "cpu-16core": Hardware(name="cpu-16core", flops=400e9, bandwidth=40e9, price_per_hour=0.68,
                           memory_gib=32),
    # NVIDIA L4 (121 TFLOP/s bf16 dense peak, 300 GB/s; e.g. GCP g2-standard-4, ~$0.70/h).
    "l4": Hardware(name="l4", flops=48e12, bandwidth=210e9, price_per_hour=0.70, memory_gib=24),
    # NVIDIA A10G (~70 TFLOP/s bf16 dense, 600 GB/s; AWS g5.xlarge, ~$1.01/h).
    "a10g": Hardware(name="a10g", flops=28e12, bandwidth=420e9, price_per_hour=1.01,
                     memory_gib=24),
    # NVIDIA H100 SXM (989 TFLOP/s bf16 dense, 3.35 TB/s; ~$3/h at GPU clouds).
    "h100": Hardware(name="h100", flops=400e12, bandwidth=2.3e12, price_per_hour=3.0,
                     memory_gib=80),
}


class CostEstimate(BaseModel):
    """Throughput and cost of serving calls with a small model, and the LLM's cost to compare.

    Attributes:
        model: The card id.
        hardware: The machine assumed.
        dtype: Weight precision.
        input_tokens: Prompt tokens per call.
        output_tokens: Generated tokens per call.
        calls: Calls costed in ``cost``.
        batch: Sequences decoded together.
        weight_bytes: Bytes read per decode step.
        prefill_seconds: Time to read one prompt.
        decode_seconds: Time to write one answer (at ``batch``).
        latency_seconds: ``prefill_seconds + decode_seconds``.
        seconds_per_call: Machine time per call (decode shared by the batch).
        output_tokens_per_second: Generated tokens per second, all sequences together.
        calls_per_hour: Calls one machine serves per hour.
        cost_per_call: US dollars per call.
        cost: US dollars for ``calls`` calls.
        cost_per_1k_calls: US dollars per 1,000 calls.
        llm_cost_per_1k_calls: The LLM's dollars per 1,000 calls (``None`` without prices).
        savings: ``1 - cost / llm cost`` (``None`` without LLM prices).
        assumptions: What the figures rest on.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    hardware: Hardware
    dtype: str
    input_tokens: int
    output_tokens: int
    calls: int
    batch: int
    weight_bytes: int
    prefill_seconds: float
    decode_seconds: float
    latency_seconds: float
    seconds_per_call: float
    output_tokens_per_second: float
    calls_per_hour: float
    cost_per_call: float
    cost: float
    cost_per_1k_calls: float
    llm_cost_per_1k_calls: float | None = None
    savings: float | None = None
    assumptions: list[str] = Field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return self.model_dump(mode="json")


def _hardware(hardware: str | Hardware | Mapping[str, Any]) -> Hardware:
    if isinstance(hardware, Hardware):
        return hardware
    if isinstance(hardware, str):
        try:
            return HARDWARE[hardware]
        except KeyError:
            raise ConfigError(f"unknown hardware {hardware!r}; known: {', '.join(HARDWARE)}, "
                              f"or pass Hardware(name=..., flops=..., bandwidth=..., "
                              f"price_per_hour=...)") from None
    if isinstance(hardware, Mapping):
        return Hardware(**hardware)
    raise ConfigError(f"hardware must be a name, a Hardware or a dict, got "
                      f"{type(hardware).__name__}")


def _llm_prices(prices: Any) -> tuple[float, float] | None:
    """(input, output) dollars per 1K tokens from a pair, a dict or a Prices-like object."""
    if prices is None:
        return None
    if isinstance(prices, Mapping):
        pair = (prices.get("input_per_1k"), prices.get("output_per_1k"))
    elif isinstance(prices, (tuple, list)) and len(prices) == 2:
        pair = (prices[0], prices[1])
    elif hasattr(prices, "input_per_1k") and hasattr(prices, "output_per_1k"):
        pair = (prices.input_per_1k, prices.output_per_1k)
    else:
        raise ConfigError("llm_prices must be (input_per_1k, output_per_1k), a dict with those "
                          "keys, or an object with those attributes (e.g. Prices)")
    values = []
    for value in pair:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
                or not math.isfinite(value):
            raise ConfigError(f"LLM prices must be non-negative dollars per 1K tokens, got "
                              f"{pair!r}")
        values.append(float(value))
    return values[0], values[1]


def estimate_cost(card: ModelCard | str | float, input_tokens: int, output_tokens: int, *,
                  calls: int = 1000, hardware: str | Hardware | Mapping[str, Any] = "cpu-2core",
                  dtype: str | None = None, batch: int = 1,
                  llm_prices: Any = None) -> CostEstimate:
    """Estimate latency, throughput and dollars per 1,000 calls (see the module docstring).

    Args:
        card: A :class:`ModelCard`, a catalog id, or a parameter count in billions.
        input_tokens: Prompt tokens per call (e.g. a task's mean input tokens).
        output_tokens: Generated tokens per call.
        calls: Calls to cost in ``cost``.
        hardware: A :data:`HARDWARE` name, a :class:`Hardware`, or its fields as a dict.
        dtype: Weight precision (default: fp32 on CPUs, bf16 on GPUs).
        batch: Sequences decoded together (decode steps read the weights once for all).
        llm_prices: The LLM's US dollars per 1,000 tokens as ``(input, output)``, a dict with
            ``input_per_1k``/``output_per_1k``, or an object with those attributes (e.g.
            :class:`slm_agents.evaluate.Prices`).

    Raises:
        ConfigError: negative tokens, calls or batch below 1, unknown hardware, bad prices.
    """
    model = _card(card)
    for name, value, minimum in (("input_tokens", input_tokens, 0),
                                 ("output_tokens", output_tokens, 0), ("calls", calls, 1),
                                 ("batch", batch, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}")
    machine = _hardware(hardware)
    dtype = dtype or ("fp32" if machine.name.startswith("cpu") else "bf16")
    weight_bytes = estimate_memory(model, dtype, context=0).weights
    flops_per_token = 2 * model.params * 1e9
    prefill = flops_per_token * input_tokens / machine.flops
    step = max(weight_bytes / machine.bandwidth, flops_per_token * batch / machine.flops)
    decode = step * output_tokens
    # The batch shares each decode step; prefill is per call.
    seconds_per_call = prefill + decode / batch
    cost_per_call = seconds_per_call / 3600 * machine.price_per_hour
    prices = _llm_prices(llm_prices)
    llm_1k = None if prices is None else 1000 * (input_tokens / 1000 * prices[0]
                                                 + output_tokens / 1000 * prices[1])
    ours_1k = 1000 * cost_per_call
    assumptions = [
        f"prefill compute-bound: 2·params FLOPs per token at {machine.flops:.3g} FLOP/s",
        f"decode bandwidth-bound: {weight_bytes / 1e9:.3g} GB of {dtype} weights read per step "
        f"at {machine.bandwidth:.3g} B/s, batch {batch}",
        f"machine at ${machine.price_per_hour}/h, fully utilised",
    ]
    return CostEstimate(
        model=model.id, hardware=machine, dtype=dtype, input_tokens=input_tokens,
        output_tokens=output_tokens, calls=calls, batch=batch, weight_bytes=weight_bytes,
        prefill_seconds=prefill, decode_seconds=decode, latency_seconds=prefill + decode,
        seconds_per_call=seconds_per_call,
        output_tokens_per_second=(batch / step) if output_tokens else 0.0,
        calls_per_hour=3600 / seconds_per_call if seconds_per_call else math.inf,
        cost_per_call=cost_per_call, cost=cost_per_call * calls, cost_per_1k_calls=ours_1k,
        llm_cost_per_1k_calls=llm_1k,
        savings=None if not llm_1k else 1 - ours_1k / llm_1k, assumptions=assumptions)
