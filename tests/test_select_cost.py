"""Throughput and cost per 1,000 calls, on hand-computed cases."""

from __future__ import annotations

import pytest

from slm_agents.errors import ConfigError
from slm_agents.select import HARDWARE, Hardware, estimate_cost

# 1 TFLOP/s, 1 GB/s, $3.60 an hour = $0.001 a second: easy to compute by hand.
SLOW = Hardware(name="hand", flops=1e12, bandwidth=1e9, price_per_hour=3.6)


def test_cost_on_a_hand_computed_case() -> None:
    est = estimate_cost(1.0, input_tokens=100, output_tokens=10, hardware=SLOW, dtype="bf16",
                        llm_prices=(0.001, 0.002))
    # Prefill: 2 x 1e9 x 100 FLOPs / 1e12 = 0.2 s. Decode: 2e9 bytes / 1e9 B/s = 2 s a token.
    assert est.weight_bytes == 2_000_000_000
    assert est.prefill_seconds == pytest.approx(0.2)
    assert est.decode_seconds == pytest.approx(20.0)
    assert est.seconds_per_call == pytest.approx(20.2)
    assert est.cost_per_call == pytest.approx(0.0202)
    assert est.cost_per_1k_calls == pytest.approx(20.2)
    assert est.cost == pytest.approx(20.2)  # calls=1000 by default
    # LLM: 100 x $0.001/1K + 10 x $0.002/1K = $0.00012 a call.
    assert est.llm_cost_per_1k_calls == pytest.approx(0.12)
    assert est.savings == pytest.approx(1 - 20.2 / 0.12)
    assert est.output_tokens_per_second == pytest.approx(0.5)


def test_batching_shares_the_decode_steps() -> None:
    one = estimate_cost(1.0, 100, 10, hardware=SLOW, dtype="bf16", batch=1)
    eight = estimate_cost(1.0, 100, 10, hardware=SLOW, dtype="bf16", batch=8)
    assert eight.decode_seconds == pytest.approx(one.decode_seconds)  # still bandwidth-bound
    assert eight.seconds_per_call == pytest.approx(0.2 + 20.0 / 8)
    assert eight.cost_per_1k_calls < one.cost_per_1k_calls


def test_small_model_on_cpu_is_cheaper_than_an_llm_on_a_typical_call() -> None:
    est = estimate_cost("smollm2-135m", 500, 50, llm_prices={"input_per_1k": 0.0025,
                                                              "output_per_1k": 0.01})
    assert est.dtype == "fp32" and est.hardware == HARDWARE["cpu-2core"]
    assert 0 < est.cost_per_1k_calls < est.llm_cost_per_1k_calls
    assert 0 < est.savings < 1 and est.assumptions


def test_llm_prices_accept_a_prices_object() -> None:
    evaluate = pytest.importorskip("slm_agents.evaluate")
    prices = evaluate.Prices(input_per_1k=0.001, output_per_1k=0.002)
    est = estimate_cost(1.0, 100, 10, hardware=SLOW, llm_prices=prices)
    assert est.llm_cost_per_1k_calls == pytest.approx(0.12)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"input_tokens": -1}, "input_tokens must be an integer >= 0"),
    ({"calls": 0}, "calls must be an integer >= 1"),
    ({"hardware": "tpu-v9"}, "known: cpu-2core"),
    ({"llm_prices": (-1, 0)}, "non-negative"),
    ({"llm_prices": "cheap"}, "llm_prices must be"),
])
def test_bad_input_gives_clear_errors(kwargs: dict[str, object], message: str) -> None:
    args: dict[str, object] = {"input_tokens": 10, "output_tokens": 10}
    args.update(kwargs)
    with pytest.raises(ConfigError, match=message):
        estimate_cost(1.0, **args)  # type: ignore[arg-type]
