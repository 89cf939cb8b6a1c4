"""The one capture pipeline every hook feeds: hooks enqueue, a background writer stores.

The hot path (a framework callback) only takes references and clock readings and appends a
:class:`PendingCall` to a bounded queue. Everything costly (converting framework objects into a
:class:`~slm_agents.CallRecord`, scrubbing, serialising, encrypting, writing) happens on the
writer thread. Nothing in here raises into the host application: failures are logged and counted
in :meth:`Recorder.stats`.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import ValidationError

from ..errors import ConfigError
from ..records import CallRecord
from .options import CaptureOptions

if TYPE_CHECKING:
    from .trace import TraceDecorator

__all__ = ["CaptureStats", "PendingCall", "Recorder", "RecordSink", "Scrubber"]

logger = logging.getLogger("slm_agents.capture")
_LOG_EVERY_S = 60.0


@runtime_checkable
class PendingCall(Protocol):
    """What a hook enqueues: raw references plus timings, turned into a record off the hot path."""

    def build(self) -> CallRecord | None:
        """Build the record (runs on the writer thread); ``None`` means nothing to store."""


@runtime_checkable
class RecordSink(Protocol):
    """Where records go. :class:`slm_agents.Store` is the default; any object with this works."""

    def add_many(self, records: Sequence[CallRecord], *,
                 raws: Sequence[CallRecord | None] | None = None) -> int: ...


@runtime_checkable
class Scrubber(Protocol):
    """Removes private data from a record before storage (e.g. :class:`slm_agents.PIIScrubber`)."""

    def scrub_record(self, record: CallRecord) -> CallRecord: ...


@dataclass(frozen=True)
class CaptureStats:
    """Counters of what capture did (all since the recorder was created)."""

    received: int
    written: int
    duplicates: int
    dropped_overflow: int
    dropped_human_facing: int
    dropped_closed: int
    dropped_scrub_failed: int
    dropped_write_failed: int
    build_errors: int
    hook_errors: int
    queue_depth: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class _FlushMarker:
    __slots__ = ("done", "ok")

    def __init__(self) -> None:
        self.done = threading.Event()
        self.ok = True


class _Ready:
    """A record that is already built (used by the decorator and by tests)."""

    __slots__ = ("record",)

    def __init__(self, record: CallRecord) -> None:
        self.record = record

    def build(self) -> CallRecord:
        return self.record


def _as_scrub_function(scrubber: Any) -> Callable[[CallRecord], CallRecord] | None:
    # Normalise the accepted forms once, at the boundary.
    if scrubber is None:
        return None
    method = getattr(scrubber, "scrub_record", None)
    if callable(method):
        return method  # type: ignore[no-any-return]
    if callable(scrubber):
        return scrubber  # type: ignore[no-any-return]
    raise ConfigError(
        "scrubber must be an object with scrub_record(record) -> CallRecord "
        f"(e.g. slm_agents.PIIScrubber) or a callable record -> record; got {type(scrubber)!r}"
    )


_live_recorders: weakref.WeakSet[Recorder] = weakref.WeakSet()


class Recorder:
    """Capture an agent's LLM calls into a store, off the agent's hot path.

    Args:
        store: Where records go: a :class:`slm_agents.Store` (a writer key is enough) or any
            object with ``add_many(records, raws=None)``.
        agent: Agent name stamped on records that do not name one.
        scrubber: Optional object with ``scrub_record(record)`` (or a callable) run on the writer
            thread before storage, so the store keeps only the scrubbed form.
        is_human_facing: Optional predicate ``record -> bool`` marking human-facing calls.
        **options: Any field of :class:`CaptureOptions` (durability, queue_size, overflow, ...).

    Examples:
        >>> import tempfile, os, slm_agents as sa
        >>> path = os.path.join(tempfile.mkdtemp(), "calls.db")
        >>> store = sa.Store(path, key=sa.generate_key())
        >>> with sa.Recorder(store, agent="planner") as rec:
        ...     @rec.trace()
        ...     def ask(messages):
        ...         return "42"
        ...     ask([{"role": "user", "content": "6 x 7?"}])
        '42'
        >>> len(store)
        1
    """

    def __init__(self, store: RecordSink, agent: str | None = None, *,
                 scrubber: Any = None,
                 is_human_facing: Callable[[CallRecord], bool] | None = None,
                 **options: Any) -> None:
        if not callable(getattr(store, "add_many", None)):
            raise ConfigError(
                "store must be a slm_agents.Store or an object with add_many(records, raws=None); "
                f"got {type(store)!r}"
            )
        try:
            self.options = CaptureOptions(**options)
        except ValidationError as exc:
            raise ConfigError(f"invalid Recorder options: {exc}") from exc
        self.store = store
        self.agent = agent
        self.scrubber = scrubber
        self.is_human_facing = is_human_facing
        self._scrub = _as_scrub_function(scrubber)
        self._sync = self.options.durability == "sync"
        self._max_queue = self.options.queue_size
        self._wake_at = self.options.batch_size  # hot path: a plain int, not a model lookup
        self._closed = False
        self._counts: dict[str, int] = dict.fromkeys(
            ("received", "written", "duplicates", "dropped_overflow", "dropped_human_facing",
             "dropped_closed", "dropped_scrub_failed", "dropped_write_failed", "build_errors",
             "hook_errors"), 0)
        self._handlers: list[Any] = []
        self._last_logged: dict[str, float] = {}
        self._start_writer()
        _live_recorders.add(self)

    # ------------------------------------------------------------------ hot path
    def _emit(self, pending: PendingCall) -> None:
        """Hand a pending call to the writer. Never raises; blocks only with overflow="block"."""
        try:
            if self._closed:
                self._count("dropped_closed")
                return
            if self._sync:
                self._process([pending])
                return
            queue = self._queue
            if len(queue) >= self._max_queue and not self._make_room():
                return
            queue.append(pending)
            if len(queue) >= self._wake_at:
                self._wake.set()
        except Exception as exc:  # pragma: no cover - defensive: capture never breaks the host
            self._hook_error(exc, "emit")

    def _make_room(self) -> bool:
        """Apply the overflow policy; True when the new call may be enqueued."""
        policy = self.options.overflow
        if policy == "drop_old":
            try:
                self._queue.popleft()
                self._count("dropped_overflow")
            except IndexError:
                pass
            return True
        if policy == "block":
            self._wake.set()
            deadline = time.monotonic() + self.options.block_timeout_s
            while len(self._queue) >= self._max_queue and time.monotonic() < deadline:
                time.sleep(0.001)
            if len(self._queue) < self._max_queue:
                return True
        self._count("dropped_overflow")
        return False

    def _count(self, name: str, n: int = 1) -> None:
        with self._count_lock:
            self._counts[name] += n

    def _hook_error(self, exc: BaseException, where: str) -> None:
        """Log and count a failure inside a hook (hooks call this instead of raising)."""
        try:
            self._count("hook_errors")
            # A bug in a hook would otherwise log a traceback on every LLM call: one per place
            # per minute, with the count so far, is enough to find it.
            now = time.monotonic()
            if now - self._last_logged.get(where, -_LOG_EVERY_S) >= _LOG_EVERY_S:
                self._last_logged[where] = now
                logger.warning("slm_agents capture: %s failed (%d hook errors so far): %r",
                               where, self._counts["hook_errors"], exc, exc_info=exc)
        except Exception:  # pragma: no cover - logging itself failed
            pass

    # ------------------------------------------------------------------ writer thread
    def _start_writer(self) -> None:
        self._queue: deque[Any] = deque()
        self._wake = threading.Event()
        self._count_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = False
        self._thread: threading.Thread | None = None
        if not self._sync:
            # Daemon: a forgotten close() must never hang interpreter exit (atexit flushes first).
            self._thread = threading.Thread(target=self._run, name="slm_agents-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        interval = self.options.flush_interval_s
        while True:
            self._wake.wait(interval)
            self._wake.clear()
            try:
                self._drain()
            except Exception as exc:  # pragma: no cover - the loop must survive anything
                logger.error("slm_agents capture: writer loop error: %r", exc, exc_info=exc)
            if self._stop and not self._queue:
                return

    def _drain(self) -> None:
        batch_size = self.options.batch_size
        queue = self._queue
        while queue:
            items: list[Any] = []
            markers: list[_FlushMarker] = []
            while queue and len(items) < batch_size:
                item = queue.popleft()
                if isinstance(item, _FlushMarker):
                    markers.append(item)
                    break  # everything before the marker must be written before it is released
                items.append(item)
            ok = self._process(items) if items else True
            for marker in markers:
                marker.ok = ok and marker.ok
                marker.done.set()

    def _process(self, items: list[PendingCall]) -> bool:
        """Build, classify, scrub and write a batch; True when every record was written."""
        self._count("received", len(items))
        records: list[CallRecord] = []
        raws: list[CallRecord | None] = []
        for item in items:
            try:
                record = item.build()
            except Exception as exc:
                self._count("build_errors")
                logger.warning("slm_agents capture: could not build a record: %r", exc,
                               exc_info=exc)
                continue
            if record is None:
                continue
            prepared = self._prepare(record)
            if prepared is None:
                continue
            records.append(prepared[0])
            raws.append(prepared[1])
        if not records:
            return True
        return self._write(records, raws)

    def _prepare(self, record: CallRecord) -> tuple[CallRecord, CallRecord | None] | None:
        opts = self.options
        if record.agent is None:
            # A framework run can name its agent in metadata ({"agent": "triage"}).
            named = record.metadata.get("agent")
            record.agent = named if isinstance(named, str) else self.agent
        if opts.tags:
            record.tags = list(dict.fromkeys([*record.tags, *opts.tags]))
        if opts.metadata:
            record.metadata = {**opts.metadata, **record.metadata}
        if self._classify_human_facing(record):
            record.human_facing = True
            if opts.human_facing == "skip":
                self._count("dropped_human_facing")
                return None
        if self._scrub is None:
            return record, None
        try:
            scrubbed = self._scrub(record)
        except Exception as exc:
            # A record that cannot be scrubbed is dropped, never stored raw.
            self._count("dropped_scrub_failed")
            logger.warning("slm_agents capture: scrubber failed on record %s: %r", record.id, exc)
            return None
        return scrubbed, (record if opts.keep_raw else None)

    def _classify_human_facing(self, record: CallRecord) -> bool:
        if record.human_facing:
            return True
        if self.options.human_facing_tags.intersection(record.tags):
            return True
        if record.metadata.get("human_facing") is True:
            return True
        if self.is_human_facing is not None:
            try:
                return bool(self.is_human_facing(record))
            except Exception as exc:
                self._hook_error(exc, "is_human_facing predicate")
        return False

    def _write(self, records: list[CallRecord], raws: list[CallRecord | None]) -> bool:
        raw_arg = raws if any(r is not None for r in raws) else None
        delay = 0.05
        for attempt in range(5):
            try:
                with self._write_lock:
                    inserted = self.store.add_many(records, raws=raw_arg)
                self._count("written", inserted)
                self._count("duplicates", len(records) - inserted)
                return True
            except Exception as exc:
                last = exc
                if attempt < 4:
                    time.sleep(delay)
                    delay *= 2
        self._count("dropped_write_failed", len(records))
        logger.error("slm_agents capture: could not write %d records: %r", len(records), last)
        return False

    # ------------------------------------------------------------------ public API
    def record(self, record: CallRecord) -> None:
        """Capture an already-built record (for hooks of your own). Never raises."""
        self._emit(_Ready(record))

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything captured so far is written.

        Returns:
            True when every record captured before the call is stored (and durable at the store's
            synchronous level); False on timeout or when some could not be written.
        """
        if self._sync or self._thread is None:
            return self._counts["dropped_write_failed"] == 0
        if not self._thread.is_alive():
            # The writer is gone (it died, or close() timed out): write what is left here.
            self._drain()
            return True
        marker = _FlushMarker()
        self._queue.append(marker)
        self._wake.set()
        if not marker.done.wait(timeout):
            return False
        return marker.ok

    def close(self, timeout: float | None = None) -> None:
        """Flush, stop the writer and detach every handler this recorder attached. Idempotent."""
        if self._closed:
            return
        wait = self.options.close_timeout_s if timeout is None else timeout
        try:
            self.flush(timeout=wait)
        finally:
            self._closed = True
            self._stop = True
            self._wake.set()
            if self._thread is not None and self._thread is not threading.current_thread():
                self._thread.join(timeout=wait)
            for detach in reversed(self._handlers):
                try:
                    detach()
                except Exception as exc:  # pragma: no cover
                    logger.warning("slm_agents capture: detach failed: %r", exc)
            self._handlers.clear()
            _live_recorders.discard(self)

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> CaptureStats:
        """Counters of what capture did: written, duplicates, each kind of drop, errors."""
        with self._count_lock:
            counts = dict(self._counts)
        return CaptureStats(queue_depth=sum(
            1 for item in list(self._queue) if not isinstance(item, _FlushMarker)), **counts)

    def trace(self, func: Callable[..., Any] | None = None, *, name: str | None = None,
              agent: str | None = None, model: str | None = None,
              human_facing: bool = False, tags: Sequence[str] = (),
              metadata: dict[str, Any] | None = None) -> TraceDecorator | Callable[..., Any]:
        """Decorate a sync or async function that calls an LLM (see :mod:`.capture.trace`).

        The function's ``messages`` argument (OpenAI-style dicts, or the first positional
        argument) is the input; its return value (text, an OpenAI-style message or response, or a
        LangChain message) is the output. Usable as ``@rec.trace`` or ``@rec.trace(...)``.
        """
        from .trace import TraceDecorator

        decorator = TraceDecorator(self, name=name, agent=agent, model=model,
                                   human_facing=human_facing, tags=tuple(tags),
                                   metadata=dict(metadata or {}))
        return decorator(func) if func is not None else decorator

    def langchain_handler(self, **kwargs: Any) -> Any:
        """A LangChain callback handler feeding this recorder (``config={"callbacks": [h]}``)."""
        from ..integrations.langchain import SLMCallbackHandler

        return SLMCallbackHandler(self, **kwargs)

    def instrument_langchain(self, **kwargs: Any) -> Callable[[], None]:
        """Capture every LangChain run in this process without touching call sites.

        Returns:
            A function that detaches the hook (``close()`` also detaches it).
        """
        from ..integrations.langchain import instrument

        detach: Callable[[], None] = instrument(self, **kwargs)
        self._handlers.append(detach)
        return detach

    def llama_index_handler(self, *, attach: bool = True, **kwargs: Any) -> Any:
        """A LlamaIndex handler on the root dispatcher (``.detach()`` removes it)."""
        from ..integrations.llama_index import LlamaIndexCapture

        handler = LlamaIndexCapture(self, **kwargs)
        if attach:
            handler.attach()
            self._handlers.append(handler.detach)
        return handler

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else self.options.durability
        return f"Recorder(agent={self.agent!r}, store={self.store!r}, {state})"

    # ------------------------------------------------------------------ process lifecycle
    def _after_fork_in_child(self) -> None:
        # Threads do not survive fork: the child gets an empty queue and its own writer. Calls the
        # parent had queued are the parent's to write (writing them here too would duplicate).
        if self._closed:
            return
        self._start_writer()


def _flush_all_at_exit() -> None:
    for recorder in list(_live_recorders):
        try:
            recorder.close()
        except Exception:  # pragma: no cover - exit must not fail
            pass


def _reinit_after_fork() -> None:
    for recorder in list(_live_recorders):
        try:
            recorder._after_fork_in_child()
        except Exception:  # pragma: no cover
            pass


atexit.register(_flush_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reinit_after_fork)

