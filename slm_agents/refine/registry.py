"""The model registry: every specialist version per task, on disk, crash-safe.

A registry is a folder::

    root/index.json                    the whole state: tasks, versions, statuses, revision
    root/models/<task>/v<N>/model/     a version's specialist (as Specialist.save writes it)
    root/models/<task>/v<N>/metrics.json   its full evaluation report (EvalReport.to_dict)
    root/.lock                         writers take it (flock), readers never do

Each version records its **data window** (the records it was trained on), its **metrics**, its
**parent** (the version that was serving when it was trained) and its **status**:

- ``candidate``: registered, not decided yet;
- ``promoted``: the task's current version (at most one per task);
- ``rejected``: did not pass the promotion gate, or was rolled back;
- ``retired``: was promoted, then superseded (a rollback can restore it).

Crash safety: a version's files are written to a staging folder, flushed, and renamed into place
*before* the index mentions them; the index itself only changes by write-to-temp, ``fsync`` and
``os.replace``. A process killed at any point therefore leaves an index that is either the old
one or the new one, and that only points at complete files (at worst a version folder no index
mentions, which the next writer removes). :meth:`ModelRegistry.verify` checks exactly that.

Every change bumps ``revision``; :meth:`ModelRegistry.revision` is a ``stat`` plus, when the file
changed, a read of the small index, so a router can poll it cheaply
(:class:`~slm_agents.refine.RegistrySpecialists`).

Examples:
    >>> import tempfile
    >>> from pathlib import Path
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / "spec").mkdir(); _ = (folder / "spec" / "weights.txt").write_text("v1")
    >>> registry = ModelRegistry(folder / "registry")
    >>> v1 = registry.register("weather", folder / "spec", metrics={"agreement": 0.93})
    >>> v1.version, v1.status
    (1, 'candidate')
    >>> registry.promote("weather", 1).status
    'promoted'
    >>> registry.current("weather").version, registry.revision()
    (1, 2)
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelLoadError
from ._fs import (
    TMP_PREFIX,
    atomic_write_json,
    copy_tree_durable,
    file_lock,
    flush_tree,
    fsync_dir,
    read_json,
    remove_tree,
)
from .versions import (
    STATUSES,
    DataWindow,
    Status,
    Task,
    VersionInfo,
    as_metrics,
    as_window,
    index_problems,
    metrics_summary,
    now,
    task_key,
    task_slug,
)

__all__ = ["STATUSES", "DataWindow", "ModelRegistry", "VersionInfo"]

logger = logging.getLogger("slm_agents.refine")

FORMAT = "slm_agents.registry"
FORMAT_VERSION = 1
INDEX = "index.json"


class ModelRegistry:
    """Versions of each task's specialist on disk, with promotion and rollback.

    Writers (``register``, ``promote``, ``reject``, ``rollback``, ``prune``) serialise on a file
    lock, so several processes may share one registry; readers never block. Every reader method
    reads the index afresh (it is small), so another process's changes show at once.

    Args:
        root: The registry folder (created when missing).

    Raises:
        ModelLoadError: ``root/index.json`` exists but is not a registry index.

    Examples:
        >>> registry = ModelRegistry("registry")                        # doctest: +SKIP
        >>> info = registry.register(3, specialist, metrics=report,
        ...                          window=(since, until), parent=None)  # doctest: +SKIP
        >>> registry.promote(3, info.version)                            # doctest: +SKIP
        >>> registry.rollback(3)  # the previous promoted version serves again  # doctest: +SKIP
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._stat: tuple[int, ...] | None = None
        self._revision = 0
        self._read()  # fail early on a corrupt index

    def __repr__(self) -> str:
        return f"ModelRegistry({str(self.root)!r})"

    # ------------------------------------------------------------------ index i/o
    @property
    def index_path(self) -> Path:
        """The JSON index file."""
        return self.root / INDEX

    def _empty(self) -> dict[str, Any]:
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "revision": 0,
                "updated_at": None, "tasks": {}}

    def _read(self) -> dict[str, Any]:
        try:
            data = read_json(self.index_path)
        except FileNotFoundError:
            return self._empty()
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"the registry index {self.index_path} cannot be read: "
                                 f"{exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelLoadError(f"{self.index_path} is not a slm_agents registry index")
        if int(data.get("format_version", 0)) > FORMAT_VERSION:
            raise ModelLoadError(f"{self.root} was written by a newer slm_agents (format "
                                 f"{data['format_version']}); upgrade to read it")
        return data

    def _write(self, data: dict[str, Any]) -> None:
        data["revision"] = int(data.get("revision", 0)) + 1
        data["updated_at"] = now().isoformat()
        atomic_write_json(self.index_path, data)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[dict[str, Any]]:
        """Read the index under the writers' lock; write it back if the body returns normally."""
        with file_lock(self.root / ".lock"):
            data = self._read()
            before = json.dumps(data, sort_keys=True, default=str)
            yield data
            if json.dumps(data, sort_keys=True, default=str) != before:
                self._write(data)

    def revision(self) -> int:
        """The index's revision: it grows by one with every change (0 for a new registry).

        Cheap enough to call on every request: a ``stat`` of the index, and a read of it only
        when the file changed since the last call, or changed so recently that a second change
        in the same clock tick could hide behind an identical ``stat`` (git's "racily clean"
        rule).
        """
        try:
            st = os.stat(self.index_path)
        except FileNotFoundError:
            return 0
        signature = (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)
        recent = time.time_ns() - st.st_mtime_ns < 2_000_000_000
        if signature != self._stat or recent:
            self._revision = int(self._read().get("revision", 0))
            self._stat = signature
        return self._revision

    # ------------------------------------------------------------------ reading
    def _entry(self, data: Mapping[str, Any], task: Task) -> dict[str, Any]:
        entry = data["tasks"].get(task_key(task))
        if entry is None:
            known = ", ".join(sorted(data["tasks"])) or "none yet"
            raise ConfigError(f"the registry has no task {task!r}; tasks: {known}")
        return entry  # type: ignore[no-any-return]

    def _info(self, entry: Mapping[str, Any], raw: Mapping[str, Any]) -> VersionInfo:
        fields = dict(raw)
        path = fields.pop("path", None)
        fields["path"] = None if path is None else self.root / path
        return VersionInfo(task=entry["task"], **fields)

    def _version(self, entry: Mapping[str, Any], version: int) -> dict[str, Any]:
        for raw in entry["versions"]:
            if raw["version"] == version:
                return raw  # type: ignore[no-any-return]
        known = ", ".join(str(v["version"]) for v in entry["versions"])
        raise ConfigError(f"task {entry['task']!r} has no version {version!r}; versions: {known}")

    def tasks(self) -> list[Task]:
        """Every task with at least one version (int ids first, in order, then names)."""
        tasks = [entry["task"] for entry in self._read()["tasks"].values()]
        return sorted(tasks, key=lambda t: (isinstance(t, str), t if isinstance(t, str) else
                                            f"{t:020d}"))

    def current(self, task: Task) -> VersionInfo | None:
        """The promoted version serving ``task``, or ``None`` (unknown task, or none promoted)."""
        entry = self._read()["tasks"].get(task_key(task))
        if entry is None or entry.get("current") is None:
            return None
        return self._info(entry, self._version(entry, entry["current"]))

    def history(self, task: Task) -> list[VersionInfo]:
        """Every version of ``task``, oldest first (empty for an unknown task)."""
        entry = self._read()["tasks"].get(task_key(task))
        if entry is None:
            return []
        return [self._info(entry, raw) for raw in entry["versions"]]

    def get(self, task: Task, version: int) -> VersionInfo:
        """One version.

        Raises:
            ConfigError: unknown task or version (the message lists the known ones).
        """
        entry = self._entry(self._read(), task)
        return self._info(entry, self._version(entry, version))

    def metrics(self, task: Task, version: int) -> dict[str, Any] | None:
        """The full evaluation report registered with a version (``EvalReport.to_dict()``)."""
        info = self.get(task, version)
        if info.path is None:
            return None
        try:
            data = read_json(info.path.parent / "metrics.json")
        except FileNotFoundError:
            return None
        return data if isinstance(data, dict) else None

    def load(self, task: Task, version: int | None = None,
             loader: Callable[[Path], Any] | None = None) -> Any:
        """Load a version's specialist (the current one by default).

        Args:
            task: The task.
            version: A version number, or ``None`` for the promoted one.
            loader: ``path -> model`` (default :meth:`slm_agents.train.Specialist.load`).

        Raises:
            ModelLoadError: no promoted version, or the version's files were pruned.
        """
        info = self.current(task) if version is None else self.get(task, version)
        if info is None:
            raise ModelLoadError(f"task {task!r} has no promoted version in {self.root}")
        if info.path is None:
            raise ModelLoadError(f"version {info.version} of task {task!r} has no files (pruned)")
        if loader is None:
            from ..train import Specialist

            loader = Specialist.load
        return loader(info.path)

    # ------------------------------------------------------------------ writing
    def register(self, task: Task, specialist: Any, metrics: Any = None, window: Any = None,
                 parent: int | None = None, *, status: Status = "candidate",
                 reason: str | None = None,
                 metadata: Mapping[str, Any] | None = None) -> VersionInfo:
        """Add a new version of ``task``: copy its files in, then record it in the index.

        Args:
            task: The task (an int cluster id or a name).
            specialist: A folder holding a saved specialist, or an object with
                ``save(path)`` (a :class:`~slm_agents.train.Specialist`).
            metrics: Its evaluation: an :class:`~slm_agents.evaluate.EvalReport`, its
                ``to_dict()``, a ``{name: value}`` dict, or ``None``.
            window: The data it was trained on: a :class:`DataWindow`, a dict of its fields or
                a ``(since, until)`` tuple.
            parent: The version that was serving when it was trained.
            status: ``"candidate"`` (decide later) or ``"rejected"`` (kept for the record).
            reason: Why it has that status.
            metadata: Extra JSON values to keep with it.

        Returns:
            The new version (numbered one above the task's highest).

        Raises:
            ConfigError: a bad argument (unknown parent, status, a folder that does not exist).
        """
        key = task_key(task)
        if status not in ("candidate", "rejected"):
            raise ConfigError("register() takes status 'candidate' or 'rejected'; use promote() "
                              f"to promote; got {status!r}")
        report = as_metrics(metrics)
        data_window = as_window(window)
        source = None
        if isinstance(specialist, (str, os.PathLike)):
            source = Path(specialist)
            if not source.is_dir():
                raise ConfigError(f"specialist folder {source} does not exist")
        elif not callable(getattr(specialist, "save", None)):
            raise ConfigError("specialist must be a saved specialist's folder or an object with "
                              f"save(path); got {type(specialist).__name__}")
        with self._transaction() as data:
            entry = data["tasks"].get(key)
            if entry is None:
                entry = {"task": task, "slug": task_slug(key), "current": None, "promotions": [],
                         "versions": []}
            if parent is not None:
                if not entry["versions"]:
                    raise ConfigError(f"task {task!r} has no versions yet, so no parent "
                                      f"v{parent}")
                self._version(entry, parent)  # raises for an unknown parent
            version = 1 + max((v["version"] for v in entry["versions"]), default=0)
            relative = Path("models", entry["slug"], f"v{version}")
            self._stage(self.root / relative, specialist, source, report)
            raw = {"version": version, "status": status, "created_at": now().isoformat(),
                   "path": (relative / "model").as_posix(),
                   "window": data_window.model_dump(mode="json") if data_window else None,
                   "metrics": metrics_summary(report) if report else {}, "parent": parent,
                   "promoted_at": None, "retired_at": None, "reason": reason,
                   "metadata": dict(metadata or {})}
            entry["versions"].append(raw)
            data["tasks"][key] = entry
        logger.info("registry: registered %s v%d (%s)", task, version, status)
        return self._info(entry, raw)

    def _stage(self, target: Path, specialist: Any, source: Path | None,
               report: dict[str, Any] | None) -> None:
        """Write a version's folder completely, then rename it into place (under the lock)."""
        staging = self.root / ".staging"
        for leftover in staging.glob("*") if staging.is_dir() else ():
            remove_tree(leftover)  # from a writer that died: we hold the lock, so it is garbage
        work = staging / uuid.uuid4().hex
        work.mkdir(parents=True)
        try:
            if source is not None:
                copy_tree_durable(source, work / "model")
            else:
                specialist.save(work / "model")
                flush_tree(work / "model")
            if report is not None:
                atomic_write_json(work / "metrics.json", report)
            fsync_dir(work)
            target.parent.mkdir(parents=True, exist_ok=True)
            if target.exists():
                remove_tree(target)  # a version folder no index mentions: a crashed register
            os.replace(work, target)
            fsync_dir(target.parent)
        except BaseException:
            remove_tree(work)
            raise

    def _set(self, raw: dict[str, Any], status: Status, reason: str | None) -> None:
        raw["status"] = status
        if reason is not None:
            raw["reason"] = reason

    def promote(self, task: Task, version: int, *, reason: str | None = None) -> VersionInfo:
        """Make ``version`` the one serving ``task``; the previous one becomes ``retired``.

        Promoting the current version changes nothing.

        Raises:
            ConfigError: unknown task or version, or a version whose files were pruned.
        """
        with self._transaction() as data:
            entry = self._entry(data, task)
            raw = self._version(entry, version)
            if raw.get("path") is None:
                raise ConfigError(f"version {version} of task {task!r} has no files (pruned)")
            if entry["current"] != version:
                stamp = now().isoformat()
                if entry["current"] is not None:
                    old = self._version(entry, entry["current"])
                    self._set(old, "retired", f"superseded by v{version}")
                    old["retired_at"] = stamp
                self._set(raw, "promoted", reason)
                raw["promoted_at"] = stamp
                entry["current"] = version
                entry["promotions"] = [v for v in entry["promotions"] if v != version]
                entry["promotions"].append(version)
                logger.info("registry: promoted %s v%d", task, version)
        return self._info(entry, raw)

    def reject(self, task: Task, version: int, reason: str | None = None) -> VersionInfo:
        """Mark a candidate ``rejected`` (the serving version stays).

        Raises:
            ConfigError: unknown task or version, or the version is the promoted one (use
                :meth:`rollback`).
        """
        with self._transaction() as data:
            entry = self._entry(data, task)
            raw = self._version(entry, version)
            if entry["current"] == version:
                raise ConfigError(f"v{version} serves task {task!r}; use rollback() to take "
                                  "it out of service")
            self._set(raw, "rejected", reason)
        return self._info(entry, raw)

    def rollback(self, task: Task, reason: str = "rolled back") -> VersionInfo | None:
        """Take the current version out of service and restore the previous promoted one.

        The current version becomes ``rejected`` (with ``reason``). The most recently promoted
        earlier version that is still ``retired`` (and has its files) serves again; when there
        is none, no version serves the task (a router then sends its calls to the LLM).

        Returns:
            The version now serving, or ``None``.

        Raises:
            ConfigError: unknown task, or no version is serving it.
        """
        with self._transaction() as data:
            entry = self._entry(data, task)
            current = entry["current"]
            if current is None:
                raise ConfigError(f"task {task!r} has no promoted version to roll back")
            stamp = now().isoformat()
            bad = self._version(entry, current)
            self._set(bad, "rejected", reason)
            bad["retired_at"] = stamp
            stack = [v for v in entry["promotions"] if v != current]
            restored = None
            while stack:
                candidate = self._version(entry, stack[-1])
                if candidate["status"] == "retired" and candidate.get("path") is not None:
                    restored = candidate
                    break
                stack.pop()
            entry["promotions"] = stack
            entry["current"] = None if restored is None else restored["version"]
            if restored is not None:
                self._set(restored, "promoted", f"restored by rollback of v{current}")
                restored["promoted_at"] = stamp
                restored["retired_at"] = None
        if restored is None:
            logger.warning("registry: rolled back %s v%d; no earlier version to restore, so "
                           "no specialist serves it", task, current)
            return None
        logger.info("registry: rolled back %s v%d -> v%d", task, current, restored["version"])
        return self._info(entry, restored)

    def prune(self, task: Task | None = None, keep_retired: int = 2) -> list[VersionInfo]:
        """Delete the files of versions that cannot serve again; their index entries stay.

        Rejected versions lose their files, and so do retired ones beyond the ``keep_retired``
        most recent (those are the rollback targets). Candidates (undecided) and the promoted
        version are never touched.

        Returns:
            The versions whose files were deleted.
        """
        pruned: list[tuple[dict[str, Any], dict[str, Any]]] = []
        with self._transaction() as data:
            keys = [task_key(task)] if task is not None else list(data["tasks"])
            for key in keys:
                entry = self._entry(data, key if task is None else task)
                retired = sorted((v for v in entry["versions"] if v["status"] == "retired"
                                  and v.get("path")), key=lambda v: v["version"])
                doomed = [v for v in entry["versions"]
                          if v["status"] == "rejected" and v.get("path")]
                doomed += retired[:max(len(retired) - keep_retired, 0)]
                for raw in doomed:
                    folder = (self.root / raw["path"]).parent
                    raw["path"] = None
                    pruned.append((entry, raw))
                    raw.setdefault("metadata", {})["pruned_folder"] = folder.relative_to(
                        self.root).as_posix()
        # Files go after the index stops pointing at them: a crash here leaves only garbage.
        for _, raw in pruned:
            remove_tree(self.root / raw["metadata"]["pruned_folder"])
        return [self._info(entry, raw) for entry, raw in pruned]

    # ------------------------------------------------------------------ checking
    def verify(self) -> list[str]:
        """Problems with the registry's consistency (an empty list when there are none).

        Checks that the index parses, each task has at most one promoted version and it is the
        current one, every version the index gives files for has them (a non-empty model
        folder), and promotions only name existing versions. Stray staging folders, temporary
        files and version folders the index does not mention are garbage, not problems.
        """
        try:
            data = self._read()
        except ModelLoadError as exc:
            return [str(exc)]
        return index_problems(self.root, data)

    def garbage(self) -> list[Path]:
        """Leftovers of interrupted writers: staging folders, temporary files, orphan versions."""
        data = self._read()
        used = {(self.root / raw["path"]).parent for entry in data["tasks"].values()
                for raw in entry["versions"] if raw.get("path")}
        found = [p for p in (self.root / ".staging").glob("*")]
        found += [p for p in self.root.glob(f"{TMP_PREFIX}*")]
        found += [p for p in (self.root / "models").glob("*/v*") if p not in used]
        return found
