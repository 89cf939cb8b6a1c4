"""The router with a real small model as the specialist (SmolLM2-135M, zero-shot, offline)."""

from __future__ import annotations

import pytest
from test_route_support import ASK, TOOLS, always, fake_llm, llm_tool_call

from slm_agents.route import Router, check_generation
from slm_agents.route.validation import contract_for

pytestmark = pytest.mark.slow


def test_a_real_small_model_either_keeps_the_contract_or_escalates() -> None:
    pytest.importorskip("transformers")
    from slm_agents.train import Specialist

    specialist = Specialist.from_base("smollm2-135m", device="cpu")
    router = Router(fake_llm(llm_tool_call("Oslo")), {"weather": specialist},
                    policy=always("weather"), retry_with_feedback=True)
    answer = router.invoke(ASK, TOOLS)
    if answer.route == "specialist":
        assert check_generation(answer, contract_for(TOOLS)) is None
    else:
        assert answer.fallback_reason in {"parse_error", "unknown_tool", "schema_violation",
                                          "empty", "exception"}
        assert answer.tool_calls[0].arguments == {"city": "Oslo"}
    assert answer.attempts in (1, 2)
    assert router.stats().calls == 1
