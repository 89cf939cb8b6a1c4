"""End-to-end curation of 100,000 agent calls on 2 cores: time and peak memory.

Issue #3 target: 100,000 records curated end to end in at most 10 minutes on 2 cores, with peak
memory reported. End to end: read from the encrypted store with a curator key, filter, scrub
with ``PIIScrubber`` (``--no-scrub`` skips it), convert to chat examples, drop exact and near
duplicates, and write the JSONL export.

The records come from ``_pii_corpus`` (seven agent tasks, a dozen long system prompts and their
tool schemas, dozens of user templates filled with people drawn from a pool, as agent logs repeat
a lot), plus injected exact duplicates, near-duplicates and failures (errors, empty and truncated
outputs, broken tool JSON, unknown tools, human-facing and over-long calls). Writing them to the
store is not timed; ``--source list`` curates an in-memory list instead of the store.

    python bench/bench_curate.py [--records 100000] [--no-scrub] [--source store|list]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
from _pii_corpus import iter_generate

import slm_agents as sa
from slm_agents.curate.curator import Curator
from slm_agents.records import CallRecord, Message, ToolCall

LIMIT_S = 600.0
INJECT = {  # share of records turned into each case
    "duplicate_exact": 0.05, "duplicate_near": 0.05, "error": 0.03, "empty_output": 0.01,
    "truncated_output": 0.02, "invalid_tool_json": 0.01, "unknown_tool": 0.01,
    "human_facing": 0.03, "too_long": 0.005,
}
_NEAR_EDITS = [" Thanks.", " thanks!", "!", " please", "?"]  # a retried call, retyped


def pin_cores(n: int) -> list[int]:
    """Restrict this process (and the workers it starts) to ``n`` CPUs when it may use more."""
    if not hasattr(os, "sched_getaffinity"):
        return list(range(os.cpu_count() or 1))
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) > n:
        os.sched_setaffinity(0, cpus[:n])
    return sorted(os.sched_getaffinity(0))


def _shingles(record: CallRecord) -> set[str]:
    """Lower-cased word 3-shingles of the user and tool turns and the output."""
    parts = [m.content or "" for m in record.messages if m.role in ("user", "tool")]
    parts.append(record.output or "")
    parts.extend(f"{tc.name} {json.dumps(tc.arguments)}" for tc in record.tool_calls)
    words = "\n".join(parts).lower().split()
    return {" ".join(words[i:i + 3]) for i in range(max(1, len(words) - 2))}


def make_records(n: int, seed: int, pool_size: int) -> tuple[Iterator[CallRecord], Counter[str]]:
    """``n`` records with the injected cases; the counter fills in as the iterator is consumed.

    The counter also gets ``near_similar``: injected near-duplicates whose word 3-shingle Jaccard
    similarity with their original is at least 0.85 (short texts change a lot with one word).
    """
    injected: Counter[str] = Counter()
    rng = random.Random(seed + 7)
    cases = list(INJECT)
    weights = list(INJECT.values())
    clean = 1.0 - sum(weights)

    def records() -> Iterator[CallRecord]:
        recent: list[CallRecord] = []
        source = iter_generate(n, seed, pool_size=pool_size)
        for i, item in enumerate(source):
            rec = item.record
            case = rng.choices(cases + ["clean"], weights + [clean])[0]
            if case.startswith("duplicate") and not recent:
                case = "clean"
            if case in ("duplicate_exact", "duplicate_near") and recent:
                orig = rng.choice(recent)
                update: dict[str, Any] = {
                    "id": f"{rec.id}-copy", "started_at": rec.started_at, "trace_id": rec.trace_id,
                    "metadata": {**orig.metadata, "copy_of": orig.id, "case": case}}
                if case == "duplicate_near":
                    msgs = list(orig.messages)
                    msgs[1] = msgs[1].model_copy(update={
                        "content": (msgs[1].content or "") + rng.choice(_NEAR_EDITS)})
                    update["messages"] = msgs
                rec = orig.model_copy(update=update)
                if case == "duplicate_near":
                    a, b = _shingles(rec), _shingles(orig)
                    injected["near_similar"] += len(a & b) >= 0.85 * len(a | b)
            elif case == "error":
                rec = rec.model_copy(update={
                    "output": None, "tool_calls": [], "finish_reason": None,
                    "error": rng.choice(["RateLimitError: 429 Too Many Requests",
                                         "APITimeoutError: Request timed out.",
                                         "InternalServerError: 500 upstream connect error"])})
            elif case == "empty_output":
                rec = rec.model_copy(update={"output": "", "tool_calls": [],
                                             "finish_reason": "stop"})
            elif case == "truncated_output":
                text = (rec.output or "I have looked at the request and the next step is to")
                rec = rec.model_copy(update={"output": text[: max(10, len(text) // 2)],
                                             "tool_calls": [], "finish_reason": "length"})
            elif case == "invalid_tool_json":
                name = rec.tool_names[0]
                rec = rec.model_copy(update={"output": None, "finish_reason": "tool_calls",
                                             "tool_calls": [ToolCall(
                                                 name=name, id=f"bad-{i}", arguments={},
                                                 raw_arguments='{"email": "a@b.co", "phone": ',
                                                 error="Expecting value: line 1 column 28")]})
            elif case == "unknown_tool":
                rec = rec.model_copy(update={"output": None, "finish_reason": "tool_calls",
                                             "tool_calls": [ToolCall(
                                                 name="delete_all_records", id=f"unk-{i}",
                                                 arguments={"confirm": True})]})
            elif case == "human_facing":
                rec = rec.model_copy(update={"human_facing": True})
            elif case == "too_long":
                msgs = list(rec.messages)
                msgs.insert(2, Message(role="user", content=(
                    "Here is the full export you asked for:\n" + "row;status;ok\n" * 1500)))
                rec = rec.model_copy(update={"messages": msgs})
            injected[case] += 1
            recent.append(rec)
            if len(recent) > 2000:
                recent.pop(rng.randrange(len(recent)))
            yield rec

    return records(), injected


class PeakRSS:
    """Samples this process's RSS, and with its child processes, every 50 ms."""

    def __init__(self) -> None:
        self.proc = psutil.Process()
        self.peak_self = self.peak_tree = self.proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rss = self.proc.memory_info().rss
                tree = rss + sum(c.memory_info().rss for c in self.proc.children(recursive=True))
            except psutil.Error:
                continue
            self.peak_self = max(self.peak_self, rss)
            self.peak_tree = max(self.peak_tree, tree)
            time.sleep(0.05)

    def __enter__(self) -> PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pool", type=int, default=5000,
                        help="people the records draw from (agent logs repeat)")
    parser.add_argument("--source", choices=["store", "list"], default="store")
    parser.add_argument("--no-scrub", action="store_true", help="curate without PIIScrubber")
    parser.add_argument("--n-process", type=int, default=None,
                        help="PIIScrubber n_process (default: the library's default)")
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    cpus = pin_cores(args.cores)
    mib = 1024 * 1024
    tmp = Path(tempfile.mkdtemp(prefix="bench_curate_"))

    t0 = time.perf_counter()
    stream, injected = make_records(args.records, args.seed, args.pool)
    source: Any
    if args.source == "store":
        admin = sa.generate_key()
        with sa.Store(tmp / "calls.db", key=admin) as store:
            batch: list[CallRecord] = []
            for rec in stream:
                batch.append(rec)
                if len(batch) == 1000:
                    store.add_many(batch)
                    batch = []
            store.add_many(batch)
            curator_key = store.issue_key("curator")
        source = sa.Store(tmp / "calls.db", key=curator_key)
        where = f"encrypted store ({(tmp / 'calls.db').stat().st_size / mib:.0f} MiB)"
    else:
        source = list(stream)
        where = "in-memory list"
    prep_s = time.perf_counter() - t0
    print(f"{args.records:,} records generated into an {where} in {prep_s:.0f} s (not timed); "
          f"CPUs {cpus}")
    near_similar = injected.pop("near_similar", 0)
    print("  injected: " + ", ".join(f"{k} {v}" for k, v in injected.most_common())
          + f" ({near_similar} of the near-duplicates at 3-shingle Jaccard >= 0.85)")

    scrubber = None
    if not args.no_scrub:
        from slm_agents.curate.scrubber import PIIScrubber

        kwargs = {} if args.n_process is None else {"n_process": args.n_process}
        scrubber = PIIScrubber(**kwargs)
    curator = Curator(scrubber=scrubber)
    proc = psutil.Process()
    rss_before = proc.memory_info().rss
    cpu0 = os.times()
    load0 = os.getloadavg()[0]
    with PeakRSS() as peak:
        t0 = time.perf_counter()
        dataset = curator.run(source)
        run_s = time.perf_counter() - t0
        dataset.to_jsonl(tmp / "train.jsonl")
        total_s = time.perf_counter() - t0
    cpu1 = os.times()
    cpu_s = sum(cpu1[k] - cpu0[k] for k in range(4))  # user+sys, this process and waited workers
    if args.source == "store":
        source.close()
    report = curator.report_
    n_proc = getattr(scrubber, "n_process", None) if scrubber is not None else "-"
    print(f"Curator({'PIIScrubber(n_process=' + str(n_proc) + ')' if scrubber else 'no scrubber'})"
          f" on {len(cpus)} cores:")
    print(f"  {report.n_in:,} in -> {report.n_out:,} examples in {total_s:.1f} s "
          f"(run {run_s:.1f} s + to_jsonl {total_s - run_s:.1f} s), "
          f"{report.n_in / total_s:,.0f} records/s  (target <= {LIMIT_S:.0f} s) -> "
          f"{'MET' if total_s <= LIMIT_S else 'MISSED'}")
    print(f"  CPU time {cpu_s:.0f} s (user+sys incl. workers) over {total_s:.0f} s wall; "
          f"1-min load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after (other "
          f"processes on these cores slow the wall time down)")
    print(f"  peak RSS: {peak.peak_self / mib:.0f} MiB this process, "
          f"{peak.peak_tree / mib:.0f} MiB with worker processes "
          f"(RSS before the run {rss_before / mib:.0f} MiB)")
    print(f"  dropped: {report.dropped}")
    print(f"  duplicates: exact {report.duplicates_exact:,}, near {report.duplicates_near:,}")
    if report.entities_scrubbed:
        print("  entities scrubbed: " + ", ".join(
            f"{k} {v:,}" for k, v in sorted(report.entities_scrubbed.items(),
                                            key=lambda kv: -kv[1])))
    print(f"  per task out: {report.per_task}")
    print(f"  JSONL: {(tmp / 'train.jsonl').stat().st_size / mib:.0f} MiB")


if __name__ == "__main__":
    main()
