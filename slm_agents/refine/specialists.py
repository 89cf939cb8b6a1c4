"""A registry as the router's ``{task: model}`` mapping, following promotions and rollbacks.

:class:`~slm_agents.route.Router` copies its ``specialists`` mapping once, at construction, so
the values of :class:`RegistrySpecialists` are stable proxies (:class:`RegistryModel`), one per
task: each call checks the registry's revision (at most every ``check_interval`` seconds; a
``stat`` of the index) and, when the task's promoted version changed, loads the new one before
answering. A rollback therefore reaches a running router at its next call after the interval,
without a restart. A task with no promoted version (e.g. after rolling back its only version)
raises :class:`~slm_agents.errors.ModelLoadError` from ``generate``, which the router treats as
a failed specialist: the LLM answers.

Examples:
    >>> from slm_agents.route import Router                                # doctest: +SKIP
    >>> router = Router(llm, specialists=RegistrySpecialists(registry),
    ...                 clusterer=flywheel.task_clusterer())            # doctest: +SKIP
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelLoadError
from .registry import ModelRegistry, Task

__all__ = ["RegistryModel", "RegistrySpecialists"]

logger = logging.getLogger("slm_agents.refine")


class RegistryModel:
    """The promoted specialist of one task, reloaded when the registry changes.

    A ``GenerativeModel``: :meth:`generate` answers with whatever version is promoted now.

    Attributes:
        task: The task it serves.
        name: ``"registry:<task>"`` (the router's model name for it).
    """

    def __init__(self, owner: RegistrySpecialists, task: Task) -> None:
        self._owner = owner
        self.task = task
        self.name = f"registry:{task}"

    def __repr__(self) -> str:
        return f"RegistryModel(task={self.task!r}, version={self.version!r})"

    @property
    def version(self) -> int | None:
        """The version loaded now (``None`` before the first call or when none is promoted)."""
        return self._owner._loaded.get(self.task, (None, None))[0]

    def current(self) -> Any:
        """The loaded model of the promoted version (loading or reloading it if needed).

        Raises:
            ModelLoadError: the task has no promoted version, or it cannot be loaded.
        """
        return self._owner._model(self.task)

    def generate(self, messages: Sequence[Mapping[str, Any]],
                 tools: Sequence[Mapping[str, Any]] | None = None, **kwargs: Any) -> Any:
        """Answer with the task's promoted specialist."""
        return self.current().generate(messages, tools, **kwargs)


class RegistrySpecialists(Mapping[Task, RegistryModel]):
    """A read-only ``{task: model}`` view of a :class:`ModelRegistry`'s promoted versions.

    Keys are the tasks that have a promoted version (as of the last revision check); values are
    :class:`RegistryModel` proxies, loaded lazily on their first call and reloaded when the
    registry's revision shows that the task's promoted version changed.

    Args:
        registry: A :class:`ModelRegistry` or its folder.
        loader: ``path -> model`` (default :meth:`slm_agents.train.Specialist.load`).
        check_interval: Seconds between two revision checks (0: check on every call).
        preload: Load every promoted specialist now instead of on first use.

    Examples:
        >>> specialists = RegistrySpecialists("flywheel/registry")       # doctest: +SKIP
        >>> router = Router(llm, specialists=specialists, clusterer=clusterer)  # doctest: +SKIP
        >>> registry.rollback(3)     # the router's next call to task 3 uses the old version
    """

    def __init__(self, registry: ModelRegistry | str | Path,
                 loader: Callable[[Path], Any] | None = None, *, check_interval: float = 1.0,
                 preload: bool = False) -> None:
        if not isinstance(registry, ModelRegistry):
            registry = ModelRegistry(registry)
        if isinstance(check_interval, bool) or not isinstance(check_interval, (int, float)) or (
                check_interval < 0):
            raise ConfigError(f"check_interval must be a number of seconds >= 0; got "
                              f"{check_interval!r}")
        self.registry = registry
        self.loader = loader
        self.check_interval = float(check_interval)
        self._lock = threading.Lock()
        self._task_locks: dict[Task, threading.Lock] = {}
        self._proxies: dict[Task, RegistryModel] = {}
        self._loaded: dict[Task, tuple[int | None, Any]] = {}
        self._wanted: dict[Task, int] = {}
        self._revision = -1
        self._checked_at = float("-inf")
        self.refresh()
        if preload:
            for task in list(self._wanted):
                self._model(task)

    def __repr__(self) -> str:
        return f"RegistrySpecialists({self.registry!r}, tasks={list(self)!r})"

    # ------------------------------------------------------------------ the mapping
    def __getitem__(self, task: Task) -> RegistryModel:
        self._maybe_refresh()
        if task not in self._wanted:
            raise KeyError(task)
        return self._proxy(task)

    def __iter__(self) -> Iterator[Task]:
        self._maybe_refresh()
        return iter(list(self._wanted))

    def __len__(self) -> int:
        self._maybe_refresh()
        return len(self._wanted)

    def _proxy(self, task: Task) -> RegistryModel:
        with self._lock:
            proxy = self._proxies.get(task)
            if proxy is None:
                proxy = self._proxies[task] = RegistryModel(self, task)
            return proxy

    # ------------------------------------------------------------------ following the registry
    def refresh(self) -> bool:
        """Re-read the promoted versions now; True when the registry changed since last time."""
        revision = self.registry.revision()
        with self._lock:
            self._checked_at = time.monotonic()
            if revision == self._revision:
                return False
        wanted = {}
        for task in self.registry.tasks():
            info = self.registry.current(task)
            if info is not None and info.path is not None:
                wanted[task] = info.version
        with self._lock:
            changed = {t for t in set(wanted) | set(self._wanted)
                       if wanted.get(t) != self._wanted.get(t)}
            self._wanted = wanted
            self._revision = revision
        for task in sorted(changed, key=str):
            logger.info("registry specialists: task %r now served by %s", task,
                        f"v{wanted[task]}" if task in wanted else "no version (the LLM)")
        return True

    def _maybe_refresh(self) -> None:
        if time.monotonic() - self._checked_at >= self.check_interval:
            self.refresh()

    def versions(self) -> dict[Task, int]:
        """The promoted version of each task, as of the last check."""
        self._maybe_refresh()
        return dict(self._wanted)

    def _model(self, task: Task) -> Any:
        self._maybe_refresh()
        version = self._wanted.get(task)
        if version is None:
            self._loaded.pop(task, None)  # let a rolled-back model be freed
            raise ModelLoadError(f"task {task!r} has no promoted specialist in "
                                 f"{self.registry.root}")
        loaded_version, model = self._loaded.get(task, (None, None))
        if loaded_version == version:
            return model
        with self._lock:
            task_lock = self._task_locks.setdefault(task, threading.Lock())
        with task_lock:  # one load per task at a time; other tasks keep serving
            loaded_version, model = self._loaded.get(task, (None, None))
            if loaded_version != version:
                started = time.perf_counter()
                model = self.registry.load(task, version, self.loader)
                self._loaded[task] = (version, model)
                logger.info("registry specialists: loaded task %r v%d in %.1f s", task,
                            version, time.perf_counter() - started)
        return model
