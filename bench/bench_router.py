"""Router benchmarks (issue #6): routing overhead per call, and the offline replay of routing.

Overhead: the CPU time the router adds to a call (task identification with the default
``TaskClusterer`` (MiniLM), the gates, the contract check of the specialist's answer, the
bookkeeping), measured as the wall time of ``router.invoke`` with models that answer instantly
with a precomputed Generation (the call's logged answer, tool calls and all, so the JSON-schema
check runs for real). Cold: held-out calls the router and the embedder have never seen. Cached:
the same calls again (the call's content hash and template are cached). Median and p95; targets:
median <= 5 ms cold, <= 0.5 ms cached.

Replay: calls with the LLM's logged answers as reference, split by trace into a fit part (the
clusterer learns the tasks), a calibration part and a held-out part. Every held-out call gets a
task and a confidence from the router's clusterer and an answer from that task's specialist
(checked against the call's contract; a rejected answer escalates, so it costs quality nothing).
Three routers then choose which calls the specialists serve, compared at the same shares:

- ours: per-task thresholds calibrated on the calibration part (``router.calibrate``'s curve,
  swept over its agreement targets), applied to the held-out part; also one global threshold
  swept over the confidence;
- random: the same eligible calls in random order (its expected curve);
- oracle: the calls whose specialist answer agrees with the LLM first; and a task-level oracle
  that knows each task's held-out agreement rate (not each call's) and opens whole tasks, best
  first: what per-task thresholds could reach at most when confidence says nothing within a task.

Reported: the curves (share of calls served by specialists vs agreement with the LLM), the share
served at 95% agreement, and the fraction of the random-to-oracle gap closed (area between the
curves over the shares that can be served).

Specialists: by default SIMULATED: one per discovered task, answering a call of its task with
the LLM's answer with probability p (drawn per task, uniform in [--p-low, --p-high]), a wrong
answer otherwise (and a malformed one with probability --p-invalid); a call of another task gets
a wrong answer. With ``--predictions FILE`` (JSONL: ``{"id": <record id>, "output": str | null,
"tool_calls": [{"name", "arguments"}], "raw": str}`` per call) real specialist outputs are
replayed instead. ``--logged FILE`` (JSONL of CallRecords) replaces the synthetic corpus.

``--train-specialists N`` trains real specialists here instead: LoRA on SmolLM2-135M (r=16,
top 15 layers, one epoch of at most ``--train-examples`` calls of the fit part) for the N
largest tasks the clusterer found, each serving its task's calls live (the others have none).

Real specialists: ``--demo-dir DIR --key KEY`` replays the held-out traffic of a finished
``slm-agents demo --workdir DIR`` run (KEY: the admin key it prints) through the demo's own
clusterer and its LoRA-trained SmolLM2 specialists, run for real on every call they could serve
(any confidence). Its held-out traces are split in two by trace: calibration and held-out.

    python bench/bench_router.py [--calls 4000] [--seed 0] [--overhead-calls 300]
        [--embedder minilm|hashing] [--predictions FILE] [--logged FILE]
        [--skip-overhead] [--skip-replay] [--train-specialists 3 --train-examples 240]
    python bench/bench_router.py --demo-dir DIR --key KEY
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import orjson

from slm_agents.records import CallRecord, ToolCall
from slm_agents.route import CalibrationRow, Router, calibration_rows, replay
from slm_agents.route.examples import record_reference
from slm_agents.train.generation import Generation, parse_tool_output

TARGET_COLD_MS, TARGET_CACHED_MS, TARGET_AGREEMENT = 5.0, 0.5, 0.95


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


# --------------------------------------------------------------------------- data
def load_calls(args: argparse.Namespace) -> tuple[list[CallRecord], list[str | None]]:
    """Logged calls (with the LLM's answers) and their true task where known."""
    if args.logged:
        records = [CallRecord.from_json(line) for line in Path(args.logged).read_text(
            encoding="utf-8").splitlines() if line.strip()]
        return records, [r.metadata.get("task") for r in records]
    sys.path.insert(0, str(Path(__file__).parent))
    from _task_corpus import generate_tasks

    calls = generate_tasks(args.calls, args.seed)
    return [c.record for c in calls], [c.task for c in calls]


def split(records: list[CallRecord], seed: int) -> list[int]:
    """0 = fit, 1 = calibration, 2 = held-out; whole traces stay together."""
    return [0 if u < 0.5 else 1 if u < 0.75 else 2 for u in trace_draws(records, seed)]


def trace_draws(records: list[CallRecord], seed: int) -> list[float]:
    """A number in [0, 1) per call, the same for every call of a trace."""
    out = []
    for record in records:
        digest = hashlib.blake2b(f"{seed}:{record.trace_id or record.id}".encode(),
                                 digest_size=4).digest()
        out.append(int.from_bytes(digest, "big") / 2**32)
    return out


class Call:
    """One logged call as the router sees it: input messages, tools, the LLM's answer."""

    __slots__ = ("key", "messages", "record", "reference", "task", "tools")

    def __init__(self, record: CallRecord, task: str | None) -> None:
        self.record, self.task = record, task
        self.messages, self.tools, self.reference = record_reference(record)
        self.key = orjson.dumps(self.messages)


# --------------------------------------------------------------------------- specialists
def wrong_answer(reference: Generation, rng: random.Random) -> Generation:
    """A plausible answer that does not agree with the reference."""
    if reference.tool_calls:
        call = reference.tool_calls[0]
        arguments = dict(call.arguments)
        for name, value in arguments.items():
            if isinstance(value, str):
                arguments[name] = value + " (unsure)"
                break
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                arguments[name] = value + 1
                break
        else:
            arguments["note"] = "guess"
        return Generation(tool_calls=[ToolCall(name=call.name, arguments=arguments)])
    return Generation(text=rng.choice(["I am not sure I can help with that.",
                                       "Please contact support for this request.",
                                       "That is not something I know about."]))


class SimulatedSpecialist:
    """SIMULATED: right with probability p on its own task's calls, wrong on others'."""

    def __init__(self, label: int, task: str | None, p: float, p_invalid: float,
                 calls: dict[bytes, Call], seed: int) -> None:
        self.label, self.task, self.p, self.p_invalid = label, task, p, p_invalid
        self.calls, self.seed = calls, seed
        self.model_name = f"simulated-specialist-{label}"

    def generate(self, messages: Any, tools: Any = None, **_: Any) -> Generation:
        call = self.calls[orjson.dumps(messages)]
        rng = random.Random(f"{self.seed}:{call.record.id}:{self.label}")
        if rng.random() < self.p_invalid:
            return parse_tool_output('<tool_call>\n{"name": "' + (
                call.reference.tool_calls[0].name if call.reference.tool_calls else "answer")
                + '", "arguments": {\n</tool_call>', tools)
        if call.task == self.task and rng.random() < self.p:
            return call.reference
        return wrong_answer(call.reference, rng)


class ReplayedSpecialist:
    """Real specialist outputs read from a predictions file, one per call id."""

    def __init__(self, predictions: dict[str, Generation], calls: dict[bytes, Call]) -> None:
        self.predictions, self.calls = predictions, calls
        self.model_name = "replayed-specialist"

    def generate(self, messages: Any, tools: Any = None, **_: Any) -> Generation:
        call = self.calls[orjson.dumps(messages)]
        prediction = self.predictions.get(call.record.id)
        if prediction is None:
            raise KeyError(f"no prediction for call {call.record.id}")
        return prediction


def load_predictions(path: str) -> dict[str, Generation]:
    out = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        calls = [ToolCall(name=c["name"], arguments=c.get("arguments") or {})
                 for c in item.get("tool_calls") or ()]
        out[item["id"]] = Generation(text=item.get("output"), tool_calls=calls,
                                     raw=item.get("raw") or "",
                                     parse_error=item.get("parse_error"))
    return out


def make_clusterer(args: argparse.Namespace) -> Any:
    from slm_agents.cluster import HashingEmbedder, TaskClusterer

    if args.embedder == "hashing":
        return TaskClusterer(embedder=HashingEmbedder(), random_state=args.seed)
    return TaskClusterer(random_state=args.seed)


# --------------------------------------------------------------------------- overhead
def overhead(args: argparse.Namespace, clusterer: Any, calls: list[Call]) -> None:
    by_id = {id(c.messages): c.reference for c in calls}

    def instant(messages: Any, tools: Any = None) -> Generation:
        return by_id[id(messages)]

    class Instant:
        def generate(self, messages: Any, tools: Any = None) -> Generation:
            return by_id[id(messages)]

    labels = sorted(set(int(x) for x in clusterer.labels_) - {-1})
    router = Router(instant, {label: Instant() for label in labels}, clusterer=clusterer,
                    thresholds=0.0)
    timed = calls[:args.overhead_calls]
    for warm in calls[-5:]:
        router.invoke(warm.messages, warm.tools)

    def run() -> tuple[list[float], Counter[str]]:
        times, routes = [], Counter()
        for call in timed:
            t0 = time.perf_counter()
            answer = router.invoke(call.messages, call.tools)
            times.append((time.perf_counter() - t0) * 1000.0)
            routes[answer.route] += 1
        return times, routes

    cold, routes = run()
    cached, _ = run()
    print(f"\nRouting overhead per call ({args.embedder} embedder, {len(timed)} held-out calls, "
          f"instant models; routes {dict(routes)}; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f}):")
    for name, times, target in (("cold content", cold, TARGET_COLD_MS),
                                ("cached content", cached, TARGET_CACHED_MS)):
        times = sorted(times)
        median = statistics.median(times)
        p95 = times[int(0.95 * (len(times) - 1))]
        print(f"  {name:<15} median {median:7.3f} ms   p95 {p95:7.3f} ms   "
              f"(target median <= {target} ms) -> {verdict(median <= target)}")
    sample = [c.record.model_copy(update={"output": None, "tool_calls": []})
              for c in calls[args.overhead_calls:args.overhead_calls + 100]]
    assign = []
    for record in sample:  # unseen calls: what identifying the task alone costs
        t0 = time.perf_counter()
        clusterer.assign(record)
        assign.append((time.perf_counter() - t0) * 1000.0)
    if assign:
        print(f"  of which clusterer.assign alone (cold, {len(assign)} other calls): median "
              f"{statistics.median(assign):7.3f} ms")


# --------------------------------------------------------------------------- replay
def pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The points no other point beats on both share and agreement, by share."""
    front: list[tuple[float, float]] = []
    for share, agreement in sorted(points, key=lambda p: (-p[0], -p[1])):
        if not front or agreement > front[-1][1] + 1e-12:
            front.append((share, agreement))
    return sorted(front)


def interpolate(front: list[tuple[float, float]], share: float) -> float:
    """Agreement at ``share`` on the front (mixing two settings reaches any share between)."""
    for (s0, a0), (s1, a1) in zip(front, front[1:], strict=False):
        if s0 <= share <= s1:
            return a0 if s1 == s0 else a0 + (a1 - a0) * (share - s0) / (s1 - s0)
    return front[-1][1] if share >= front[-1][0] else front[0][1]


def share_at(curve: Any, target: float, top: float) -> float:
    grid = [top * i / 2000 for i in range(2001)]
    return max((s for s in grid if curve(s) >= target - 1e-12), default=0.0)


def replay_report(rows_cal: list[CalibrationRow], rows_ho: list[CalibrationRow],
                  simulated: bool) -> None:
    from slm_agents.route import choose_thresholds

    n = len(rows_ho)
    agree = sum(r.outcome == "agree" for r in rows_ho)
    disagree = sum(r.outcome == "disagree" for r in rows_ho)
    invalid = sum(r.outcome == "invalid" for r in rows_ho)
    none = sum(r.outcome == "none" for r in rows_ho)
    valid = agree + disagree
    top = valid / n
    end = (top, (n - disagree) / n)
    calibrated = choose_thresholds(rows_cal, TARGET_AGREEMENT)
    targets = sorted({round(p.agreement, 6) for p in calibrated.curve}, reverse=True)
    ours = [(p.share, p.agreement) for p in
            (replay(rows_ho, calibrated.thresholds_at(agreement=t)) for t in targets)]
    ours_front = pareto([(0.0, 1.0), *ours, end])
    confidences = sorted({r.confidence for r in rows_ho if r.outcome != "none"}, reverse=True)
    tasks = {r.task for r in rows_ho}
    swept = [(p.share, p.agreement) for p in
             (replay(rows_ho, dict.fromkeys(tasks, c)) for c in confidences)]
    global_front = pareto([(0.0, 1.0), *swept, end])
    # Knowing each task's held-out agreement rate (not each call's): whole tasks, best first.
    per_task: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows_ho:
        if row.outcome in ("agree", "disagree"):
            per_task[row.task][row.outcome == "disagree"] += 1
    served = errors = 0
    task_points = [(0.0, 1.0)]
    for good, bad in sorted(per_task.values(), key=lambda c: c[1] / (c[0] + c[1])):
        served, errors = served + good + bad, errors + bad
        task_points.append((served / n, (n - errors) / n))
    curves = {
        "router, per-task thresholds (calibrated)": lambda s: interpolate(ours_front, s),
        "router, one global threshold (swept)": lambda s: interpolate(global_front, s),
        "random": lambda s: 1.0 - s * disagree / valid if valid else 1.0,
        "task-level oracle (knows each task's rate)": lambda s: interpolate(task_points, s),
        "oracle": lambda s: 1.0 if s <= agree / n else 1.0 - (s - agree / n),
    }
    grid = [top * i / 1000 for i in range(1001)]

    def area(curve: Any) -> float:
        values = [curve(s) for s in grid]
        return sum((a + b) / 2 for a, b in zip(values, values[1:], strict=False)) * top / 1000

    random_area, oracle_area = area(curves["random"]), area(curves["oracle"])
    label = "SIMULATED specialists" if simulated else "real specialists"
    print(f"\nOffline replay ({label}): {n} held-out calls; specialist answers: {agree} agree, "
          f"{disagree} disagree, {invalid} rejected by the contract check (escalate), {none} "
          f"with no specialist (unassigned, or their task has none)")
    print(f"  calibration part: {len(rows_cal)} calls; at target {TARGET_AGREEMENT:.0%} "
          f"in-sample: share {calibrated.share:.1%}, agreement {calibrated.agreement:.1%}")
    point = replay(rows_ho, calibrated.thresholds)
    print(f"  those thresholds on the held-out part: share {point.share:.1%}, agreement "
          f"{point.agreement:.1%}, ${point.cost_per_1k:.4f} per 1K calls "
          f"(LLM alone ${sum(r.llm_cost for r in rows_ho) / n * 1000:.4f})")
    careful = choose_thresholds(rows_cal, TARGET_AGREEMENT, confidence_level=0.9)
    point = replay(rows_ho, careful.thresholds)
    print(f"  with confidence_level=0.9 (Wilson lower bound >= target): in-sample share "
          f"{careful.share:.1%}; held-out share {point.share:.1%}, agreement "
          f"{point.agreement:.1%}")
    shares = [top * k / 8 for k in range(1, 9)]
    print("\n  agreement at a share of calls served by specialists:")
    print(f"  {'router':<44}" + "".join(f"{s:>8.1%}" for s in shares)
          + f"{'share@95%':>11}{'gap closed':>12}")
    for name, curve in curves.items():
        gap = ((area(curve) - random_area) / (oracle_area - random_area)
               if oracle_area > random_area else float("nan"))
        print(f"  {name:<44}" + "".join(f"{curve(s):>8.1%}" for s in shares)
              + f"{share_at(curve, TARGET_AGREEMENT, top):>11.1%}{gap:>12.1%}")
    print("  (gap closed: area between the router's curve and random's, over the area between "
          "oracle's and random's, for shares 0 to the most servable)")
    if simulated:
        print("  NOTE: these specialists are SIMULATED (correct with a per-task probability); "
              "run with --predictions for real ones.")


def train_specialists(args: argparse.Namespace, clusterer: Any, fit: list[Call]
                      ) -> dict[Any, Any]:
    """Real LoRA specialists for the largest tasks the clusterer found, on fit-part calls."""
    from slm_agents.curate import Dataset
    from slm_agents.curate.chat_format import record_to_example
    from slm_agents.demo.replay import CappedModel, answer_budget
    from slm_agents.train import FineTuner, LoraSettings, TrainingSettings

    sizes = Counter(int(label) for label in clusterer.labels_ if label >= 0)
    specialists: dict[Any, Any] = {}
    for label, _ in sizes.most_common(args.train_specialists):
        records = [c.record for c, lab in zip(fit, clusterer.labels_, strict=True)
                   if int(lab) == label and c.record.error is None
                   and (c.record.output or c.record.tool_calls)][:args.train_examples]
        data = Dataset([record_to_example(r) for r in records],
                       [{"record_id": r.id, "trace_id": r.trace_id} for r in records])
        tuner = FineTuner("smollm2-135m", method="lora", seed=args.seed, device="cpu",
                          lora=LoraSettings(r=16, lora_alpha=32,
                                            layers_to_transform=list(range(15, 30))),
                          training=TrainingSettings(
                              num_train_epochs=1, per_device_train_batch_size=8,
                              learning_rate=1e-3, warmup_ratio=0.05, max_length=768,
                              logging_steps=5, progress=False, resume=False))
        t0 = time.perf_counter()
        model = tuner.fit(data)
        budget = answer_budget(model.tokenizer, [record_reference(r)[2].raw for r in records])
        specialists[label] = CappedModel(model, budget, f"task-{label}")
        print(f"  trained a specialist for task {label} "
              f"({clusterer.task_names_.get(label, '?')}): {len(records)} calls, "
              f"{tuner.stats_.get('global_step')} steps, {time.perf_counter() - t0:.0f} s",
              flush=True)
    return specialists


def replay_section(args: argparse.Namespace, clusterer: Any, calls: list[Call],
                   parts: list[int], truth_of_label: dict[int, str | None],
                   trained: dict[Any, Any] | None = None) -> None:
    by_key = {c.key: c for c in calls}
    if trained is not None:
        specialists: dict[Any, Any] = trained
    elif args.predictions:
        shared = ReplayedSpecialist(load_predictions(args.predictions), by_key)
        specialists = dict.fromkeys(truth_of_label, shared)
    else:
        rng = random.Random(args.seed)
        task_p = {t: rng.uniform(args.p_low, args.p_high)
                  for t in sorted({c.task for c in calls if c.task is not None})}
        print("\n  simulated p per task: " + ", ".join(f"{t} {p:.2f}" for t, p in task_p.items()))
        specialists = {label: SimulatedSpecialist(label, task, task_p.get(task or "", 0.0),
                                                  args.p_invalid, by_key, args.seed)
                       for label, task in truth_of_label.items()}

    def llm(messages: Any, tools: Any = None) -> Generation:
        return by_key[orjson.dumps(messages)].reference

    router = Router(llm, specialists, clusterer=clusterer)
    cal = [c.record for c, part in zip(calls, parts, strict=True) if part == 1]
    held = [c.record for c, part in zip(calls, parts, strict=True) if part == 2]
    t0 = time.perf_counter()
    rows_cal = calibration_rows(router, cal)
    rows_ho = calibration_rows(router, held)
    print(f"  (ran the specialists on {len(cal) + len(held)} calls in "
          f"{time.perf_counter() - t0:.1f} s)")
    replay_report(rows_cal, rows_ho, simulated=not args.predictions and trained is None)


def demo_replay(args: argparse.Namespace) -> None:
    """The replay curve with the real specialists of a finished demo run (see the docstring)."""
    from slm_agents.cluster import TaskClusterer
    from slm_agents.curate import Dataset
    from slm_agents.demo.replay import CappedModel, answer_budget, held_out_calls
    from slm_agents.store import Store
    from slm_agents.train import Specialist
    from slm_agents.train.generation import example_reference

    root = Path(args.demo_dir)
    with Store(root / "calls.db", key=args.key) as store:
        records = list(store.records())
    test = Dataset.from_jsonl(root / "data" / "test.jsonl")
    calls = held_out_calls(records, {m["trace_id"] for m in test.meta}, 10**9)
    clusterer = TaskClusterer.load(root / "clusterer")
    train = Dataset.from_jsonl(root / "data" / "train.jsonl")
    specialists: dict[Any, Any] = {}
    for folder in sorted((root / "specialists").glob("task-*")):
        task = int(folder.name.split("-", 1)[1])
        model = Specialist.load(folder)
        # The demo's generation budget, from the task's training answers.
        budget = answer_budget(model.tokenizer, [
            example_reference(example)[2].raw
            for example, meta in zip(train.examples, train.meta, strict=True)
            if meta["task"] == str(task)])
        specialists[task] = CappedModel(model, budget, f"task-{task}")
    in_calibration = [u < 0.5 for u in trace_draws(calls, args.seed)]
    cal = [c for c, first in zip(calls, in_calibration, strict=True) if first]
    held = [c for c, first in zip(calls, in_calibration, strict=True) if not first]
    print(f"demo run {root}: {len(calls)} held-out calls ({len({c.trace_id for c in calls})} "
          f"traces): {len(cal)} calibration, {len(held)} held-out; specialists for tasks "
          f"{sorted(specialists)}: " + ", ".join(
              f"{t} {clusterer.task_names_.get(t, '?')}" for t in sorted(specialists)))

    def llm(messages: Any, tools: Any = None) -> Generation:
        raise AssertionError("calibration_rows never calls the LLM")

    router = Router(llm, specialists, clusterer=clusterer, thresholds=0.0)
    t0 = time.perf_counter()
    rows_cal = calibration_rows(router, cal)
    rows_ho = calibration_rows(router, held)
    print(f"  (ran the specialists on every call they could serve in "
          f"{time.perf_counter() - t0:.1f} s; {len(records)} calls in the store)")
    replay_report(rows_cal, rows_ho, simulated=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--overhead-calls", type=int, default=300)
    parser.add_argument("--embedder", choices=["minilm", "hashing"], default="minilm")
    parser.add_argument("--predictions", help="JSONL of real specialist outputs per call id")
    parser.add_argument("--logged", help="JSONL of CallRecords to use instead of the corpus")
    parser.add_argument("--p-low", type=float, default=0.7)
    parser.add_argument("--p-high", type=float, default=1.0)
    parser.add_argument("--p-invalid", type=float, default=0.03)
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--skip-replay", action="store_true")
    parser.add_argument("--train-specialists", type=int, default=0, metavar="N",
                        help="train real SmolLM2 specialists for the N largest tasks")
    parser.add_argument("--train-examples", type=int, default=240,
                        help="with --train-specialists: training calls per task")
    parser.add_argument("--demo-dir", help="workdir of a finished `slm-agents demo` run: replay "
                        "its held-out traffic through its real specialists")
    parser.add_argument("--key", help="with --demo-dir: the admin key the demo printed")
    args = parser.parse_args()
    if args.demo_dir:
        if not args.key:
            parser.error("--demo-dir needs --key (the admin key the demo printed)")
        demo_replay(args)
        return

    records, truth = load_calls(args)
    parts = split(records, args.seed)
    calls = [Call(r, t) for r, t in zip(records, truth, strict=True)]
    fit = [c for c, p in zip(calls, parts, strict=True) if p == 0]
    print(f"{len(calls)} calls ({Counter(parts)[0]} fit, {Counter(parts)[1]} calibration, "
          f"{Counter(parts)[2]} held-out), {len(set(t for t in truth if t))} known tasks")
    t0 = time.perf_counter()
    clusterer = make_clusterer(args).fit([c.record for c in fit])
    print(f"TaskClusterer ({args.embedder}) fitted in {time.perf_counter() - t0:.1f} s: "
          f"{clusterer.n_tasks_} tasks")
    members: dict[int, Counter[str | None]] = defaultdict(Counter)
    for call, label in zip(fit, clusterer.labels_, strict=True):
        members[int(label)][call.task] += 1
    truth_of_label = {label: c.most_common(1)[0][0] for label, c in members.items() if label >= 0}
    held = [c for c, p in zip(calls, parts, strict=True) if p == 2]
    if not args.skip_overhead:
        overhead(args, clusterer, held)
    if not args.skip_replay:
        trained = None
        if args.train_specialists:
            print(f"\ntraining real specialists for the {args.train_specialists} largest tasks:",
                  flush=True)
            trained = train_specialists(args, clusterer, fit)
        replay_section(args, clusterer, calls, parts, truth_of_label, trained)


if __name__ == "__main__":
    main()
