"""Step S6: the flywheel that keeps the specialists up to date with the agent's traffic.

One round (:meth:`Flywheel.run_once`), over the records that arrived since the last one:

1. **Read** the new records from the store (the watermark is the newest ``started_at`` processed;
   records that arrive late, within ``lookback`` seconds before it, are still picked up).
2. **Curate** them (the :class:`~slm_agents.Curator`), leaving out calls a router's specialist
   answered (their outputs are not the LLM's; they still count for live escalation rates).
3. **Assign tasks** with the fitted clusterer (fitted on the first round, saved in the workdir),
   through stable task ids (:mod:`slm_agents.refine.tasks`).
4. **Detect drift** (:mod:`slm_agents.refine.drift`) and **re-cluster** when the unassigned share
   rose or a new dense region appeared; new clusters take the ids of the old tasks they overlap.
5. **Roll back** a promoted version whose live escalation rate (router records since its
   promotion) is above ``max_escalation_rate``, when an earlier version can serve.
6. **Retrain** each task that gathered ``min_new_examples`` examples or ``min_escalations``
   router escalations since it was last trained, or whose inputs moved, on its data in the
   training window (train/validation part of a split that never moves).
7. **Evaluate** the candidate, and the serving version, on the task's held-out calls, and
   **promote** only if the candidate clears the quality bar and beats the incumbent, both with
   statistical confidence (:mod:`slm_agents.refine.gate`). Every candidate is registered
   (:class:`~slm_agents.refine.ModelRegistry`), as promoted or rejected.
8. **Commit**: the state (watermark, counters, clusterer) is replaced atomically, last.

A failure in steps 1-5 or 8 fails the round: nothing is committed, the watermark stays, and the
next round reads the same records again (the registry is consistent whatever happened). A task
whose training or evaluation fails is reported as ``failed`` and keeps its counters, so it is
retried next round; the other tasks go on.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from .._params import ParamsMixin
from ..errors import ConfigError, NotFittedError
from ..records import CallRecord
from ._fs import atomic_write_json, file_lock, read_json, remove_tree
from .data import RoundData, clone_estimator, features_of, load_clusterer, save_folder
from .drift import Baseline, DriftReport, DriftThresholds, detect_drift
from .registry import ModelRegistry
from .report import RoundReport
from .state import FlywheelState
from .steps import check_rollbacks, default_fine_tuner_factory, train_tasks
from .tasks import TaskAssigner, match_labels

__all__ = ["EVENTS", "Flywheel", "default_fine_tuner_factory"]

logger = logging.getLogger("slm_agents.refine")

EVENTS = ("round", "failed", "drift", "promoted", "rejected", "rolled_back")


class Flywheel(ParamsMixin):
    """Continuous refinement: retrain, evaluate, promote or roll back specialists, round by round.

    ``__init__`` only stores its arguments; defaults are resolved on the first round.

    Args:
        store: The :class:`~slm_agents.Store` the agent's calls are captured in (a curator or
            admin key: records are read).
        workdir: The flywheel's folder: ``state.json``, the clusterer, drift baselines,
            ``rounds/`` (one JSON report per round) and, by default, ``registry/``.
        clusterer: A :class:`~slm_agents.cluster.TaskClusterer` (or compatible) template, fitted
            or not; ``None`` uses ``TaskClusterer()``. Fitted copies live in the workdir.
        curator: The :class:`~slm_agents.Curator` (default ``Curator(seed=seed)``).
        fine_tuner_factory: ``task -> FineTuner`` (anything with ``fit(train, eval_dataset)``
            returning a model with ``generate`` and ``save``); default
            :func:`default_fine_tuner_factory`.
        evaluator: ``(model, dataset) -> EvalReport``; default
            :func:`slm_agents.evaluate.evaluate` (no progress bar, this ``confidence``).
        loader: ``path -> model`` for registered versions (default ``Specialist.load``).
        registry: A :class:`ModelRegistry` or its folder (default ``workdir/registry``).
        min_new_examples: New curated examples that make a task retrain.
        min_escalations: Router escalations (records with ``metadata["fallback_reason"]``)
            that make a task retrain.
        quality_bar: Agreement with the LLM a candidate must reach.
        bar_bound: ``"lower"``: the bar applies to the Wilson lower bound at ``confidence``;
            ``"point"``: to the point estimate.
        confidence: Confidence of the promotion tests.
        drift: :class:`~slm_agents.refine.drift.DriftThresholds` (or a dict of its fields).
        recluster: Refit the clusterer when drift calls for it.
        test_fraction: Share of traces held out for evaluation (a split that never moves).
        validation_fraction: Share used for validation during training.
        min_test_examples: Held-out examples a task needs before a candidate can be judged.
        max_eval_examples: At most this many held-out examples are evaluated.
        train_window: Seconds (or a ``timedelta``) of history to train on; ``None``: all.
        lookback: Seconds before the watermark in which late records are looked for.
        max_escalation_rate: Roll a version back when more than this share of the calls routed
            to it escalated (``None``: never).
        min_routed_calls: Routed calls needed before the escalation rate is judged.
        event_hooks: ``{event: [callable(payload dict)]}`` for events in :data:`EVENTS`.
        seed: Seed of the splits, the curator and the default trainer.

    Attributes:
        registry_: The :class:`ModelRegistry`.
        last_report_: The :class:`RoundReport` of the last round run by this object.

    Examples:
        >>> wheel = Flywheel(store, "flywheel/")                       # doctest: +SKIP
        >>> report = wheel.run_once()            # cron, Airflow...     # doctest: +SKIP
        >>> print(report.to_markdown())                                 # doctest: +SKIP
        >>> router = wheel.router(llm)   # serves promoted versions, follows rollbacks
    """

    def __init__(self, store: Any, workdir: str | Path, *, clusterer: Any = None,
                 curator: Any = None, fine_tuner_factory: Callable[[Any], Any] | None = None,
                 evaluator: Callable[[Any, Any], Any] | None = None,
                 loader: Callable[[Path], Any] | None = None,
                 registry: ModelRegistry | str | Path | None = None, min_new_examples: int = 50,
                 min_escalations: int = 20, quality_bar: float = 0.9, bar_bound: str = "lower",
                 confidence: float = 0.95, drift: DriftThresholds | Mapping[str, Any] | None = None,
                 recluster: bool = True, test_fraction: float = 0.2,
                 validation_fraction: float = 0.1, min_test_examples: int = 10,
                 max_eval_examples: int | None = 200,
                 train_window: float | timedelta | None = None, lookback: float = 600.0,
                 max_escalation_rate: float | None = 0.5, min_routed_calls: int = 20,
                 event_hooks: Mapping[str, Sequence[Callable[[dict[str, Any]], Any]]] | None = None,
                 seed: int = 0) -> None:
        self.store = store
        self.workdir = workdir
        self.clusterer = clusterer
        self.curator = curator
        self.fine_tuner_factory = fine_tuner_factory
        self.evaluator = evaluator
        self.loader = loader
        self.registry = registry
        self.min_new_examples = min_new_examples
        self.min_escalations = min_escalations
        self.quality_bar = quality_bar
        self.bar_bound = bar_bound
        self.confidence = confidence
        self.drift = drift
        self.recluster = recluster
        self.test_fraction = test_fraction
        self.validation_fraction = validation_fraction
        self.min_test_examples = min_test_examples
        self.max_eval_examples = max_eval_examples
        self.train_window = train_window
        self.lookback = lookback
        self.max_escalation_rate = max_escalation_rate
        self.min_routed_calls = min_routed_calls
        self.event_hooks = event_hooks
        self.seed = seed

    # ------------------------------------------------------------------ setup
    def _setup(self) -> None:
        if getattr(self, "_ready", False):
            return
        for name in ("min_new_examples", "min_escalations", "min_test_examples",
                     "min_routed_calls"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive int; got {value!r}")
        for name in ("quality_bar", "test_fraction", "validation_fraction"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not (
                    0 <= value <= 1):
                raise ConfigError(f"{name} must be a number in [0, 1]; got {value!r}")
        if not (0 < self.test_fraction and self.test_fraction + self.validation_fraction < 1):
            raise ConfigError("test_fraction must be > 0 and test_fraction + "
                              "validation_fraction < 1")
        if not 0 < self.confidence < 1:
            raise ConfigError(f"confidence must be in (0, 1); got {self.confidence!r}")
        if self.bar_bound not in ("lower", "point"):
            raise ConfigError(f"bar_bound must be 'lower' or 'point'; got {self.bar_bound!r}")
        hooks = dict(self.event_hooks or {})
        unknown = sorted(set(hooks) - set(EVENTS))
        if unknown:
            raise ConfigError(f"unknown event(s) {unknown}; events are: {', '.join(EVENTS)}")
        self._hooks: dict[str, list[Callable[[dict[str, Any]], Any]]] = {}
        for event, value in hooks.items():
            self._hooks[event] = [value] if callable(value) else list(value)
        self.workdir_ = Path(self.workdir)
        self.workdir_.mkdir(parents=True, exist_ok=True)
        registry = self.registry
        self.registry_ = (registry if isinstance(registry, ModelRegistry)
                          else ModelRegistry(registry or self.workdir_ / "registry"))
        if self.curator is None:
            from ..curate import Curator

            self.curator_ = Curator(seed=self.seed)
        else:
            self.curator_ = self.curator
        self.drift_ = (self.drift if isinstance(self.drift, DriftThresholds)
                       else DriftThresholds.model_validate(dict(self.drift or {})))
        self.evaluator_: Callable[[Any, Any], Any]
        if self.evaluator is None:
            from ..evaluate import evaluate

            self.evaluator_ = functools.partial(evaluate, progress=False, seed=self.seed,
                                                confidence=self.confidence)
        else:
            self.evaluator_ = self.evaluator
        self.factory_ = self.fine_tuner_factory or default_fine_tuner_factory(self.seed)
        window = self.train_window
        self.train_window_ = (window if window is None or isinstance(window, timedelta)
                              else timedelta(seconds=float(window)))
        self._clusterer_cache: tuple[str, Any] | None = None
        self._ready = True

    def set_params(self, **params: Any) -> Flywheel:
        """Set constructor arguments; they take effect from the next round."""
        super().set_params(**params)
        self._ready = False
        return self

    def _emit(self, event: str, payload: dict[str, Any]) -> None:
        for hook in self._hooks.get(event, ()):
            try:
                hook({"event": event, **payload})
            except Exception:  # a broken hook must not break a round
                logger.exception("flywheel: the %r event hook failed", event)

    # ------------------------------------------------------------------ public helpers
    def state(self) -> FlywheelState:
        """The committed state (watermark, counters, task ids...)."""
        self._setup()
        return FlywheelState.load(self.workdir_)

    def task_clusterer(self) -> TaskAssigner:
        """The clusterer in use, labelling calls with the registry's task ids (for a router).

        Raises:
            NotFittedError: no round has fitted a clusterer yet.
        """
        self._setup()
        state = self.state()
        if state.clusterer is None:
            raise NotFittedError("no clusterer yet: run a flywheel round first (run_once)")
        return TaskAssigner(self._clusterer(state.clusterer), state.task_map, state.task_names)

    def specialists(self, **kwargs: Any) -> Any:
        """A :class:`~slm_agents.refine.RegistrySpecialists` view of the registry."""
        from .specialists import RegistrySpecialists

        self._setup()
        return RegistrySpecialists(self.registry_, self.loader, **kwargs)

    def router(self, llm: Any, *, check_interval: float = 1.0, **kwargs: Any) -> Any:
        """A :class:`~slm_agents.route.Router` serving the promoted versions (and following
        promotions and rollbacks) with this flywheel's task ids."""
        from ..route import Router

        return Router(llm, specialists=self.specialists(check_interval=check_interval),
                      clusterer=self.task_clusterer(), **kwargs)

    def reports(self) -> list[RoundReport]:
        """The reports of the committed rounds, oldest first."""
        self._setup()
        return [RoundReport.from_dict(read_json(p))
                for p in sorted((self.workdir_ / "rounds").glob("round-*.json"))]

    def _clusterer(self, relative: str) -> Any:
        if self._clusterer_cache is None or self._clusterer_cache[0] != relative:
            self._clusterer_cache = (relative, load_clusterer(self.clusterer,
                                                              self.workdir_ / relative))
        return self._clusterer_cache[1]

    # ------------------------------------------------------------------ running
    def run_forever(self, interval: float, stop_event: Any = None,
                    max_rounds: int | None = None) -> list[RoundReport]:
        """Run rounds every ``interval`` seconds until ``stop_event`` is set (or ``max_rounds``).

        A failed round is logged and the loop goes on (the next round retries its records).

        Args:
            interval: Seconds between the end of one round and the start of the next.
            stop_event: A ``threading.Event`` (anything with ``is_set`` and ``wait``).
            max_rounds: Stop after this many rounds (``None``: no limit).

        Returns:
            The reports of the rounds run, failed ones included (the last 1,000 when running
            without ``max_rounds``; every committed round's report is also in ``rounds/``).
        """
        self._setup()  # invalid settings fail here, not once per round
        reports: deque[RoundReport] = deque(maxlen=max_rounds or 1000)
        rounds = 0
        while max_rounds is None or rounds < max_rounds:
            if stop_event is not None and stop_event.is_set():
                break
            rounds += 1
            try:
                reports.append(self.run_once())
            except Exception:
                logger.exception("flywheel: round failed; retrying in %.0f s", interval)
                reports.append(self.last_report_)
            if max_rounds is not None and rounds >= max_rounds:
                break
            if stop_event is not None:
                if stop_event.wait(interval):
                    break
            else:
                time.sleep(interval)
        return list(reports)

    def run_once(self) -> RoundReport:
        """One round over the records that arrived since the last one.

        Returns:
            The :class:`RoundReport` (also written to ``workdir/rounds/``).

        Raises:
            Exception: whatever failed the round (its report, with ``status="failed"``, is in
                :attr:`last_report_`); nothing was committed.
        """
        self._setup()
        with file_lock(self.workdir_ / ".lock"):
            state = FlywheelState.load(self.workdir_)
            report = RoundReport(round=state.round + 1, started_at=_now(),
                                 watermark_before=state.watermark,
                                 watermark_after=state.watermark)
            self.last_report_ = report
            try:
                self._round(state, report)
            except Exception as exc:
                report.status, report.error = "failed", f"{type(exc).__name__}: {exc}"
                report.finished_at = _now()
                report.watermark_after = state.watermark
                logger.error("flywheel round %d failed, nothing committed: %s", report.round,
                             report.error)
                self._emit("failed", {"report": report})
                raise
            report.finished_at = report.finished_at or _now()
            logger.info("flywheel %s", report.summary())
            self._emit("round", {"report": report})
            return report

    @contextlib.contextmanager
    def _step(self, report: RoundReport, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            report.timings[name] = round(report.timings.get(name, 0.0)
                                         + time.perf_counter() - started, 3)

    def _round(self, state: FlywheelState, report: RoundReport) -> None:
        new = state.model_copy(deep=True)
        with self._step(report, "read"):
            records = self._new_records(state)
        report.new_records = len(records)
        if not records:
            report.status, report.reason = "skipped", "no new records"
            return
        until = max(r.started_at for r in records)
        data = RoundData(self, new, until)
        with self._step(report, "curate"):
            dataset = data.curate(records, report)
        escalated = {r.id for r in records if r.metadata.get("fallback_reason")}
        report.new_escalations = len(escalated)
        if dataset is not None:
            report.new_examples = len(dataset)
            kept = data.kept_records(dataset, records)
            tasks = self._assign(new, kept, data, report)
            counts: Counter[int] = Counter(t for t in tasks if t >= 0)
            esc: Counter[int] = Counter(t for t, r in zip(tasks, kept, strict=True)
                                        if t >= 0 and r.id in escalated)
            for task in counts:
                pending = new.pending_for(task)
                pending.examples += counts[task]
                pending.escalations += esc[task]
            with self._step(report, "rollback"):
                check_rollbacks(self, records, report)
            with self._step(report, "train"):
                train_tasks(self, new, data, counts, esc, report)
        self._commit(new, data, records, until, report)

    # ------------------------------------------------------------------ steps
    def _new_records(self, state: FlywheelState) -> list[CallRecord]:
        since = None
        if state.watermark is not None:
            since = state.watermark - timedelta(seconds=float(self.lookback))
        return [r for r in self.store.records(since=since) if r.id not in state.recent]

    def _assign(self, new: FlywheelState, kept: list[CallRecord], data: RoundData,
                report: RoundReport) -> list[int]:
        """Task id per kept record; fits, or refits on drift, the clusterer (in ``new``)."""
        if new.clusterer is None:
            with self._step(report, "cluster"):
                tasks = self._fit(new, kept, None, data, report)
            return tasks
        clusterer = self._clusterer(new.clusterer)
        assigner = TaskAssigner(clusterer, new.task_map, new.task_names)
        with self._step(report, "assign"):
            tasks = [int(t) for t in assigner.predict(kept)]
        with self._step(report, "drift"):
            baseline = Baseline.load(self.workdir_ / new.baseline)  # type: ignore[operator]
            data.baseline = baseline
            rows = features_of(clusterer, kept)
            drift = (DriftReport(n_items=len(kept)) if rows is None else detect_drift(
                baseline, rows, tasks, self.drift_, ids=[r.id for r in kept], seed=self.seed))
        report.drift = drift
        if rows is None:
            logger.warning("flywheel: the clusterer exposes no feature space; drift is not "
                           "measured")
        if drift.reasons:
            logger.warning("flywheel drift: %s", "; ".join(drift.reasons))
            self._emit("drift", {"drift": drift})
        report.clusterer = {"fitted": False, "refitted": False, "n_tasks": assigner.n_tasks_}
        if drift.recluster and self.recluster:
            with self._step(report, "recluster"):
                history = data.history()
                self._fit(new, history.records or kept, assigner, data, report)
                tasks = [int(t) for t in TaskAssigner(
                    self._clusterer(new.clusterer), new.task_map).predict(kept)]
        return tasks

    def _fit(self, new: FlywheelState, items: list[CallRecord], previous: TaskAssigner | None,
             data: RoundData, report: RoundReport) -> list[int]:
        """Fit a clusterer on ``items``, give its labels stable ids, save it with a baseline."""
        template = self.clusterer
        if previous is None and template is not None and hasattr(template, "labels_"):
            clusterer = template  # fitted by the user: use it as it is
            labels = [int(x) for x in clusterer.predict(items)]
        else:
            if template is None:
                from ..cluster import TaskClusterer

                template = TaskClusterer()
            clusterer = clone_estimator(template).fit(items)
            labels = [int(x) for x in clusterer.labels_]
        if previous is None:
            task_map = {label: label for label in sorted(set(labels)) if label >= 0}
            next_task = max(task_map.values(), default=-1) + 1
        else:
            old = [int(t) for t in previous.predict(items)]
            task_map, next_task = match_labels(old, labels, max(new.next_task, 0))
        names = getattr(clusterer, "task_names_", {}) or {}
        new.task_map = task_map
        new.next_task = next_task
        alive = set(task_map.values())
        new.pending = {t: p for t, p in new.pending.items() if t in alive}
        new.task_names = {**new.task_names, **{task_map[k]: str(v) for k, v in names.items()
                                               if int(k) in task_map}}
        tasks = [task_map.get(label, -1) for label in labels]
        rows = features_of(clusterer, items)
        baseline = Baseline.fit(rows, tasks) if rows is not None else Baseline({}, {}, {}, 0.0)

        def write(path: Path) -> None:
            clusterer.save(path / "clusterer")
            baseline.save(path / "baseline")

        folder = save_folder(self.workdir_, f"clusterers/r{new.round + 1:05d}", write)
        new.clusterer = f"{folder}/clusterer"
        new.baseline = f"{folder}/baseline"
        data.baseline, data.baseline_changed = baseline, False
        self._clusterer_cache = (new.clusterer, clusterer)
        report.clusterer = {"fitted": previous is None, "refitted": previous is not None,
                            "n_tasks": len(set(task_map.values())), "items": len(items),
                            "task_map": {str(k): v for k, v in task_map.items()}}
        logger.info("flywheel: %s clusterer on %d calls: %d tasks",
                    "refitted" if previous else "fitted", len(items), len(task_map))
        return tasks

    def _commit(self, new: FlywheelState, data: RoundData, records: list[CallRecord],
                until: datetime, report: RoundReport) -> None:
        """Commit the round: one atomic replace of ``state.json``; then its report, cleanup."""
        with self._step(report, "commit"):
            cutoff = (until - timedelta(seconds=float(self.lookback))).timestamp()
            recent = {**new.recent, **{r.id: r.started_at.timestamp() for r in records}}
            new.recent = {k: v for k, v in recent.items() if v >= cutoff}
            new.watermark = until
            new.round += 1
            data.save_baseline()
            new.save(self.workdir_)
        report.watermark_after = until
        report.finished_at = _now()
        # The report is informational: written after the commit, so a crash here loses only it.
        rounds = self.workdir_ / "rounds"
        rounds.mkdir(exist_ok=True)
        atomic_write_json(rounds / f"round-{new.round:05d}.json", report.to_dict())
        self._prune(new)

    def _prune(self, new: FlywheelState) -> None:
        """Remove clusterer and baseline folders the committed state no longer uses."""
        keep = {Path(p).parts[:2] for p in (new.clusterer, new.baseline) if p}
        for kind in ("clusterers", "baselines"):
            for folder in (self.workdir_ / kind).glob("*"):
                if (kind, folder.name) not in keep:
                    remove_tree(folder)
        remove_tree(self.workdir_ / ".staging")


def _now() -> datetime:
    return datetime.now(timezone.utc)

