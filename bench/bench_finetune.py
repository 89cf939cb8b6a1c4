"""Fine-tune SmolLM2-135M with LoRA on the CPU on one narrow tool-calling task (issue #5).

Target: on 2 cores, LoRA fine-tuning of SmolLM2-135M-Instruct (the offline ``"smollm2-135m"``
alias) on one task's logged calls (at least 500 training examples, a held-out test set of at
least 100) finishes within 20 minutes, and the fine-tuned model beats its own zero-shot score by
a wide margin.

The task: ``password_reset`` of the IT-helpdesk agent in ``_task_corpus`` (the labelled corpus of
agent calls the clustering and routing benchmarks use). The agent offers three tools
(``reset_password``, ``create_ticket``, ``search_kb``); the calls kept are the ones the LLM
answered with a tool call, ``reset_password(username, system, method)``: the username comes from
the user's message or from the system prompt (the signed-in user), the system is copied as the
user named it ("the HR portal", "Salesforce"), and the method (password / mfa / unlock) is read
from the request. Some calls continue an earlier conversation with the agent, so their context
holds earlier turns. Each call becomes a chat example with
:func:`~slm_agents.curate.chat_format.record_to_example` (system prompt, conversation, the tools
offered, and the LLM's tool call as the final assistant turn), and the examples are split into
train and test grouped by trace (:meth:`slm_agents.Dataset.split`), so no conversation has calls
on both sides.

Measured:

- zero-shot and fine-tuned scores on the test set, each with free generation and with
  ``constrain="tools"`` (decoding forced into a valid call of an offered tool): tool-call exact
  match (name and every argument, as the function-calling leaderboards check it), argument
  match, tool-name accuracy and agreement, with 95% bootstrap intervals;
- the margin, fine-tuned minus zero-shot, with a paired bootstrap interval (same examples);
- fine-tuning: wall time of ``FineTuner.fit`` (loading the base model from the converted cache,
  tokenising, training; the one-off GGUF conversion is done before and not counted), training
  tokens/s (every token of every example the model processed, per second of training), loss;
- peak RAM (max resident set size of this process and of its largest child), at the end of
  fine-tuning and at the end of the run; the load average at the start and at the end (the
  machine may be shared: a load above the core count slows everything down).

The settings are the FineTuner author's suggestion for the CPU: LoRA r=16, alpha=32 on every
linear layer of the top half of the 30 layers (skipping the backward pass through the lower
half), learning rate 1e-3 with 5% warm-up, batch 8, one epoch, no gradient checkpointing, two
torch threads. ``max_length`` is 768 rather than 512: this task's examples (system prompt, tool
specs, conversation and answer) are up to ~700 tokens, and the FineTuner drops (never truncates)
longer examples, which would remove exactly the calls that continue a conversation.

    python bench/bench_finetune.py [--train 500] [--test 100] [--epochs 1] [--seed 0]
        [--max-new-tokens 96] [--skip-zero-shot] [--threads 2] [--torch-threads N]
        [--max-length 768] [--bootstrap 1000]

Progress bars (training steps, evaluation) go to stderr; the figures to stdout.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import random
import resource
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

sys.path.insert(0, str(Path(__file__).parent))
from _task_corpus import generate_tasks  # noqa: E402

from slm_agents.curate import Dataset  # noqa: E402
from slm_agents.curate.chat_format import record_to_example  # noqa: E402
from slm_agents.evaluate import EvalReport, evaluate  # noqa: E402

BASE_MODEL = "smollm2-135m"
TASK = "password_reset"
LIMIT_S = 20 * 60.0
TASK_SHARE = 0.034  # share of the corpus's calls that are tool calls of TASK (seed 0: 274/8000)
METRICS = ("tool_call_exact", "argument_match", "tool_name_accuracy", "agreement",
           "schema_valid_rate")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def pin_cores(n: int) -> list[int]:
    """Restrict this process (and its threads) to ``n`` CPUs when it may use more."""
    if not hasattr(os, "sched_getaffinity"):
        return list(range(os.cpu_count() or 1))
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > n:
        os.sched_setaffinity(0, cpus[:n])
    return sorted(os.sched_getaffinity(0))


def load_average() -> str:
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg()) + " (1 / 5 / 15 min)"
    except OSError:
        return "n/a"


def peak_rss_mb() -> tuple[float, float]:
    """Max resident set size of this process and of its largest (waited-for) child, in MiB."""
    scale = 2**20 if sys.platform == "darwin" else 2**10  # macOS reports bytes, Linux KiB
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / scale
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / scale
    return own, child


def fmt_rss() -> str:
    own, child = peak_rss_mb()
    return f"{own:.0f} MiB (largest child process: {child:.0f} MiB)"


# --------------------------------------------------------------------------- data
def task_dataset(n_calls: int, seed: int) -> Dataset:
    """TASK's calls answered with a tool call, as chat examples with their trace ids."""
    examples, meta = [], []
    for call in generate_tasks(n_calls, seed):
        record = call.record
        if call.task != TASK or not record.tool_calls:
            continue
        examples.append(record_to_example(record))
        meta.append({"record_id": record.id, "trace_id": record.trace_id, "task": call.task,
                     "agent": record.agent, "started_at": record.started_at.isoformat()})
    return Dataset(examples, meta)


def build_splits(n_train: int, n_test: int, seed: int) -> tuple[Dataset, Dataset, int, int]:
    """Train and test sets of TASK, grouped by trace; generates more calls until both fill."""
    n_calls = math.ceil((n_train + n_test) * 1.15 / TASK_SHARE)
    while True:
        data = task_dataset(n_calls, seed)
        fraction = min(0.5, (n_test + 2) / max(len(data), 1))
        splits = data.split(validation=0.0, test=fraction, seed=seed)
        if len(splits.train) >= n_train and len(splits.test) >= n_test:
            break
        n_calls = int(n_calls * 1.5)
    rng = random.Random(seed)
    train = splits.train.subset(sorted(rng.sample(range(len(splits.train)), n_train)))
    test = splits.test.subset(sorted(rng.sample(range(len(splits.test)), n_test)))
    return train, test, n_calls, len(data)


def traces(dataset: Dataset) -> set[str]:
    return {str(m["trace_id"]) for m in dataset.meta}


# --------------------------------------------------------------------------- evaluation
def run_eval(model: Any, test: Dataset, label: str, constrain: bool, args: argparse.Namespace,
             timings: dict[str, float]) -> EvalReport:
    kwargs: dict[str, Any] = {"max_new_tokens": args.max_new_tokens}
    if constrain:
        kwargs["constrain"] = "tools"
    name = f"{label}, {'constrained' if constrain else 'free'}"
    started = time.perf_counter()
    report = evaluate(model, test, bootstrap=args.bootstrap, seed=args.seed, progress=True,
                      generate_kwargs=kwargs, name=name)
    timings[name] = time.perf_counter() - started
    print(f"  evaluated {name}: {timings[name]:.0f} s "
          f"({timings[name] / len(test):.2f} s/example), "
          f"tool_call_exact {report.tool_call_exact:.3f}, "
          f"argument_match {report.argument_match:.3f}", flush=True)
    return report


def estimate(report: EvalReport, metric: str) -> str:
    value = report.value(metric)
    if value is None:
        return "n/a"
    interval = report.interval(metric)
    if interval is None:
        return f"{value:.3f}"
    return f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"


def print_table(reports: dict[str, EvalReport]) -> None:
    header = f"{'model, decoding':<28}" + "".join(f"{m:>24}" for m in METRICS[:3])
    print(header)
    for name, report in reports.items():
        print(f"{name:<28}" + "".join(f"{estimate(report, m):>24}" for m in METRICS[:3]))
    print()
    print(f"{'model, decoding':<28}" + "".join(f"{m:>24}" for m in METRICS[3:])
          + f"{'latency p50 (ms)':>18}{'out tok/call':>14}")
    for name, report in reports.items():
        print(f"{name:<28}" + "".join(f"{estimate(report, m):>24}" for m in METRICS[3:])
              + f"{report.latency_ms_median or 0:>18.0f}{report.mean_output_tokens or 0:>14.1f}")


def mismatches(report: EvalReport, top: int = 5) -> str:
    counts: Counter[str] = Counter()
    for result in report.examples:
        if result.error:
            counts["generate() failed"] += 1
        elif result.tool_call_exact is False:
            counts.update(result.call_mismatches or ["(no parsable call)"])
    return ", ".join(f"{k} x{v}" for k, v in counts.most_common(top)) or "none"


# --------------------------------------------------------------------------- main
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--train", type=int, default=500, help="training examples")
    parser.add_argument("--test", type=int, default=100, help="held-out test examples")
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-new-tokens", type=int, default=96,
                        help="generation budget per test call (the tool call needs ~35)")
    parser.add_argument("--skip-zero-shot", action="store_true",
                        help="evaluate the fine-tuned model only")
    parser.add_argument("--threads", type=int, default=2, help="cores (and torch threads)")
    parser.add_argument("--torch-threads", type=int, default=None,
                        help="torch threads (default: --threads); 1 is much faster when the "
                        "machine is overloaded (load average above the core count), since "
                        "OpenMP threads then wait on each other")
    parser.add_argument("--max-length", type=int, default=768,
                        help="longest training example in tokens (longer ones are dropped)")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap resamples")
    args = parser.parse_args()
    if args.train < 2 or args.test < 1:
        parser.error("--train needs at least 2 examples and --test at least 1")

    run_started = time.perf_counter()
    load_start = load_average()
    cpus = pin_cores(args.threads)

    import torch  # after pinning, so torch's thread pool sees the restricted CPU set

    from slm_agents.train import FineTuner, LoraSettings, Specialist, TrainingSettings
    from slm_agents.train.models import load_tokenizer, resolve_base_model

    torch.set_num_threads(args.torch_threads or args.threads)
    print(f"bench_finetune: LoRA fine-tuning of {BASE_MODEL} on the CPU, task {TASK!r}")
    print(f"cores: {len(cpus)} (affinity {cpus}), torch threads: {torch.get_num_threads()}, "
          f"torch {torch.__version__}")
    print(f"load average at start: {load_start}")

    # -- data ---------------------------------------------------------------------------------
    started = time.perf_counter()
    train, test, n_calls, n_task = build_splits(args.train, args.test, args.seed)
    leaked = traces(train) & traces(test)
    print(f"\ndata: {n_calls} generated calls (seed {args.seed}) -> {n_task} tool calls of "
          f"{TASK!r}; split grouped by trace -> train {len(train)}, test {len(test)} "
          f"({time.perf_counter() - started:.1f} s)")
    print(f"traces shared by train and test: {len(leaked)}")
    test_calls = Counter(ex["messages"][-1]["tool_calls"][0]["function"]["name"] for ex in test)
    print(f"test reference calls: {dict(test_calls)}; tools offered per call: "
          f"{len(test[0].get('tools', []))}")
    example = train[0]
    print(f"example: user {example['messages'][-2]['content']!r}\n      -> "
          f"{example['messages'][-1]['tool_calls'][0]['function']}")
    if leaked:
        print("ERROR: train and test share traces")
        return 1

    # The one-off GGUF -> checkpoint conversion happens here, outside every timing.
    started = time.perf_counter()
    spec = resolve_base_model(BASE_MODEL)
    load_tokenizer(spec)
    print(f"base model ready (conversion cache / tokenizer): "
          f"{time.perf_counter() - started:.1f} s, not counted")

    # -- fine-tuning --------------------------------------------------------------------------
    lora = LoraSettings(r=16, lora_alpha=32, layers_to_transform=list(range(15, 30)))
    training = TrainingSettings(
        num_train_epochs=args.epochs, per_device_train_batch_size=8, learning_rate=1e-3,
        warmup_ratio=0.05, max_length=args.max_length, gradient_checkpointing=False,
        logging_steps=5, progress=True, resume=False)
    print(f"\nfine-tuning: {lora!r}\n  {training!r}", flush=True)
    tuner = FineTuner(BASE_MODEL, method="lora", lora=lora, training=training, device="cpu",
                      seed=args.seed)
    load_fit_start = load_average()
    started, cpu_started = time.perf_counter(), time.process_time()
    specialist = tuner.fit(train)
    fit_s = time.perf_counter() - started
    fit_cpu_s = time.process_time() - cpu_started
    load_fit_end = load_average()
    rss_fit = fmt_rss()
    stats = tuner.stats_
    losses = [(e["step"], e["loss"]) for e in tuner.history_ if "loss" in e]
    print(f"  fit wall time: {fit_s:.1f} s (training {stats['runtime_s']:.1f} s), "
          f"steps {stats['global_step']}, epochs {stats['epochs']:.2f}")
    print(f"  fit CPU time (all threads): {fit_cpu_s:.1f} s = {fit_cpu_s / len(cpus):.1f} s "
          f"per core, {fit_cpu_s / len(cpus) / fit_s:.0%} of the {len(cpus)} cores' wall time")
    print(f"  examples used {stats['train_examples']}, dropped as too long "
          f"{len(stats['dropped_too_long'])}")
    print(f"  training tokens {stats['train_tokens']}, {stats['tokens_per_s']} tokens/s")
    print(f"  loss: first logged {_num(stats['first_logged_loss'])}, last logged "
          f"{_num(stats['last_logged_loss'])}, mean over training {_num(stats['train_loss'])}")
    print("  loss by step: " + ", ".join(f"{s}:{v:.3f}" for s, v in losses))
    print(f"  peak RSS after fit: {rss_fit}")
    print(f"  load average: {load_fit_start} before fit, {load_fit_end} after", flush=True)

    # -- evaluation ---------------------------------------------------------------------------
    timings: dict[str, float] = {}
    reports: dict[str, EvalReport] = {}
    print(f"\nevaluation on {len(test)} held-out calls, greedy, max_new_tokens "
          f"{args.max_new_tokens}:", flush=True)
    for constrain in (False, True):
        report = run_eval(specialist, test, "fine-tuned", constrain, args, timings)
        reports[report.model] = report
    del specialist, tuner
    gc.collect()
    if not args.skip_zero_shot:
        base = Specialist.from_base(BASE_MODEL, device="cpu")
        for constrain in (False, True):
            report = run_eval(base, test, "zero-shot", constrain, args, timings)
            reports[report.model] = report
        del base
        gc.collect()
    order = ["zero-shot, free", "zero-shot, constrained", "fine-tuned, free",
             "fine-tuned, constrained"]
    reports = {k: reports[k] for k in order if k in reports}

    # -- results ------------------------------------------------------------------------------
    total_s = time.perf_counter() - run_started
    load_end = load_average()
    print("\n=== results (95% bootstrap intervals) ===")
    print_table(reports)
    print("\nfine-tuned errors, free: " + mismatches(reports["fine-tuned, free"]))
    print("fine-tuned errors, constrained: " + mismatches(reports["fine-tuned, constrained"]))
    if not args.skip_zero_shot:
        print("zero-shot errors, free: " + mismatches(reports["zero-shot, free"]))
        print("\nmargin, fine-tuned minus zero-shot (paired bootstrap, 95% interval):")
        for decoding in ("free", "constrained"):
            tuned, zero = reports[f"fine-tuned, {decoding}"], reports[f"zero-shot, {decoding}"]
            for metric in ("tool_call_exact", "argument_match"):
                comparison = tuned.compare(zero, metric)
                print(f"  {decoding:<12} {metric:<16} {comparison.difference * 100:+.1f} points "
                      f"[{comparison.low * 100:+.1f}, {comparison.high * 100:+.1f}] "
                      f"({comparison.other_value:.3f} -> {comparison.value:.3f}, "
                      f"{'beats' if comparison.beats else 'does not beat'} zero-shot)")

    print("\n=== summary ===")
    print(f"task {TASK!r}: train {len(train)} / test {len(test)} examples (no shared traces)")
    print(f"fine-tuning wall time {fit_s:.1f} s ({fit_s / 60:.1f} min) on {len(cpus)} cores, "
          f"limit {LIMIT_S / 60:.0f} min: {verdict(fit_s <= LIMIT_S)}")
    print(f"  (CPU time {fit_cpu_s:.0f} s, {fit_cpu_s / 60:.1f} min: on {len(cpus)} otherwise "
          f"idle cores the wall time would be about {fit_cpu_s / len(cpus) / 60:.1f} min if "
          f"the threads scaled perfectly; an estimate, not a measurement)")
    print(f"training throughput: {stats['tokens_per_s']} tokens/s "
          f"({stats['train_tokens']} tokens in {stats['runtime_s']:.1f} s)")
    print(f"peak RSS: {rss_fit} at the end of fine-tuning; {fmt_rss()} at the end of the run")
    if not args.skip_zero_shot:
        for metric in ("tool_call_exact", "argument_match"):
            parts = []
            for decoding in ("free", "constrained"):
                tuned = reports[f"fine-tuned, {decoding}"].value(metric) or 0.0
                zero = reports[f"zero-shot, {decoding}"].value(metric) or 0.0
                parts.append(f"{decoding} {zero:.3f} -> {tuned:.3f} "
                             f"({(tuned - zero) * 100:+.1f} points)")
            print(f"{metric}: " + "; ".join(parts))
    print("evaluation time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    print(f"total wall time {total_s:.0f} s ({total_s / 60:.1f} min)")
    print(f"load average: {load_start} at start, {load_end} at end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
