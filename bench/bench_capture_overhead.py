"""Added time per LangChain chat-model invoke: no handler vs a no-op handler vs ours.

Issue #2 target: ours adds at most 30 µs per ``FakeListChatModel.invoke`` over the no-op handler
(median of at least 10,000 invokes each, side by side in one run). Also prints the LlamaIndex
``MockLLM.complete`` overhead for reference.

    python bench/bench_capture_overhead.py [--invokes 10000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models.fake_chat_models import FakeListChatModel

import slm_agents as sa


class NoOpHandler(BaseCallbackHandler):
    run_inline = True

    def on_chat_model_start(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        pass


def time_invokes(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t0 = clock()
        fn()
        out.append((clock() - t0) / 1000.0)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invokes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp())
    admin = sa.generate_key()
    sa.Store(tmp / "b.db", key=admin).close()
    store = sa.Store(tmp / "b.db", key=sa.Store(tmp / "b.db", key=admin).issue_key("writer"))
    rec = sa.Recorder(store, agent="bench", queue_size=100_000)
    ours = rec.langchain_handler()
    noop = NoOpHandler()
    model = FakeListChatModel(responses=["The answer is 42."])
    prompt = "What is six times seven?"
    configs = {
        "no handler": lambda: model.invoke(prompt),
        "no-op handler": lambda: model.invoke(prompt, config={"callbacks": [noop]}),
        "slm_agents handler": lambda: model.invoke(prompt, config={"callbacks": [ours]}),
    }
    for fn in configs.values():  # warm up
        time_invokes(fn, 500)
    samples: dict[str, list[float]] = {name: [] for name in configs}
    per_round = max(1, args.invokes // args.rounds)
    for _ in range(args.rounds):  # interleave so drift in machine load hits every config alike
        for name, fn in configs.items():
            samples[name].extend(time_invokes(fn, per_round))
            rec.flush()
    medians = {name: statistics.median(v) for name, v in samples.items()}
    print(f"LangChain FakeListChatModel.invoke, median of {per_round * args.rounds} each (µs):")
    for name, m in medians.items():
        print(f"  {name:<20} {m:8.1f}")
    overhead = medians["slm_agents handler"] - medians["no-op handler"]
    print(f"  ours over no-op: {overhead:+.1f} µs (target <= 30 µs) -> "
          f"{'MET' if overhead <= 30 else 'MISSED'}")
    over_bare = medians["slm_agents handler"] - medians["no handler"]
    print(f"  ours over no handler: {over_bare:+.1f} µs")
    rec.close()
    stats = rec.stats()
    print(f"  records written: {stats.written}, dropped: {stats.dropped_overflow}, "
          f"hook errors: {stats.hook_errors}")

    try:
        from llama_index.core.llms import MockLLM
    except ImportError:
        return
    llm = MockLLM(max_tokens=8)
    bare = time_invokes(lambda: llm.complete(prompt), args.invokes)
    rec2 = sa.Recorder(store, agent="bench-li", queue_size=100_000)
    handler = rec2.llama_index_handler()
    with_capture = time_invokes(lambda: llm.complete(prompt), args.invokes)
    handler.detach()
    rec2.close()
    b, w = statistics.median(bare), statistics.median(with_capture)
    print(f"LlamaIndex MockLLM.complete, median of {args.invokes} (µs): bare {b:.1f}, "
          f"with capture {w:.1f} ({w - b:+.1f})")
    store.close()


if __name__ == "__main__":
    main()
