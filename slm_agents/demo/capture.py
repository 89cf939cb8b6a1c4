"""Stage 1 of the demo: run the LangChain agents with capture attached, into an encrypted store."""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MissingDependencyError
from .workload import make_requests, planted_emails

__all__ = ["CaptureResult", "capture_calls"]


@dataclass
class CaptureResult:
    """What capture did: the store, its keys, and a summary of the records in it."""

    workdir: Path
    store_path: Path
    admin_key: str
    curator_key: str
    requests: int
    calls: int
    seconds: float
    calls_per_agent: dict[str, int] = field(default_factory=dict)
    human_facing: int = 0
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    plaintext_hits: int = 0
    capture_stats: dict[str, int] = field(default_factory=dict)
    writer_can_read: bool = False
    scrubbed: bool = False
    emails_in_view: int = 0
    planted: list[str] = field(default_factory=list)
    sample: str = ""


def capture_calls(requests: int, workdir: Path, seed: int = 0,
                  progress: Callable[[int], None] | None = None,
                  scrubber: object = None) -> CaptureResult:
    """Run the travel-assistant agents on ``requests`` requests with capture attached.

    The application is attached to capture process-wide (no call site changes), writes through a
    writer-role key that cannot read anything back, and the summary is read with a curator key.

    Args:
        requests: Number of user requests (each makes three LLM calls).
        workdir: Where the store goes (``calls.db``; created, or replaced when it exists).
        seed: Seed of the request mix.
        progress: Called with the number of requests just handled (for progress bars).
        scrubber: Scrub on the capture writer thread before storage (a ``PIIScrubber``), so the
            store never holds personal data at all; ``None`` stores the calls as made.
    """
    try:
        from .app import TravelAssistant
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingDependencyError("langchain_core", "langchain", "the demo") from exc
    from ..capture import Recorder
    from ..errors import PermissionDeniedError
    from ..store import Store, generate_key

    workdir.mkdir(parents=True, exist_ok=True)
    store_path = workdir / "calls.db"
    for stale in workdir.glob("calls.db*"):  # a rerun in the same folder starts afresh
        stale.unlink()
    admin_key = generate_key()
    with Store(store_path, key=admin_key) as admin:
        writer_key = admin.issue_key("writer")
        curator_key = admin.issue_key("curator")

    work = make_requests(requests, seed=seed)
    planted = planted_emails(work)
    app = TravelAssistant(work)
    started = time.perf_counter()
    with Store(store_path, key=writer_key) as writer_store:
        with Recorder(writer_store, agent="travel-assistant", scrubber=scrubber) as rec:
            rec.instrument_langchain()
            for req in work:
                app.handle(req)
                if progress is not None:
                    progress(1)
        writer_can_read = _can_read(writer_store, PermissionDeniedError)
    seconds = time.perf_counter() - started

    result = CaptureResult(workdir=workdir, store_path=store_path, admin_key=admin_key,
                           curator_key=curator_key, requests=requests, calls=0, seconds=seconds,
                           capture_stats=rec.stats().as_dict(), writer_can_read=writer_can_read,
                           scrubbed=scrubber is not None, planted=planted)
    per_agent: collections.Counter[str] = collections.Counter()
    with Store(store_path, key=curator_key) as curator:
        for record in curator.records():
            result.calls += 1
            per_agent[record.agent or "?"] += 1
            result.human_facing += record.human_facing
            result.tool_calls += len(record.tool_calls)
            result.input_tokens += record.usage.input_tokens or 0
            result.output_tokens += record.usage.output_tokens or 0
            text = record.to_json()
            result.emails_in_view += any(email in text for email in planted)
            if not result.sample and record.tool_calls:
                # The tool schemas repeat in every call: name them instead of printing them.
                shown = record.model_dump(mode="json", exclude_defaults=True, exclude={"tools"})
                shown["tools (offered)"] = record.tool_names
                result.sample = json.dumps(shown, indent=2, ensure_ascii=False)
    result.calls_per_agent = dict(sorted(per_agent.items()))
    result.plaintext_hits = plaintext_hits(workdir, [e.encode() for e in planted])
    return result


def _can_read(store: object, denied: type[Exception]) -> bool:
    try:
        next(iter(store.records()), None)  # type: ignore[attr-defined]
    except denied:
        return False
    return True


def plaintext_hits(root: Path, needles: list[bytes]) -> int:
    """How many planted values appear in clear in the store's files under ``root``."""
    hits = 0
    for path in root.glob("calls.db*"):
        if path.is_file():
            data = path.read_bytes()
            hits += sum(data.count(needle) for needle in needles)
    return hits
