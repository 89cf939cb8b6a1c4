"""Memory under overload: push 1,000,000 calls at capture faster than the disk can take them.

Issue #2: peak RSS stays under a stated bound. The producer enqueues as hooks do (a small pending
object per call; the record is built on the writer thread), so the queue fills and the overflow
policy (drop_new by default) keeps memory bounded. Prints peak RSS and what was written/dropped.

    python bench/bench_overload_memory.py [--calls 1000000] [--queue-size 10000]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import psutil
from _records import realistic_record

import slm_agents as sa

BOUND_MIB = 400


class PendingBenchCall:
    """What a framework hook enqueues: references only; the record is built by the writer."""

    __slots__ = ("i",)

    def __init__(self, i: int) -> None:
        self.i = i

    def build(self) -> sa.CallRecord:
        record = TEMPLATE.model_copy(update={"id": f"call-{self.i}"})
        return record


TEMPLATE = realistic_record(0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--queue-size", type=int, default=10_000)
    args = parser.parse_args()
    proc = psutil.Process()
    peak = [proc.memory_info().rss]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], proc.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    tmp = Path(tempfile.mkdtemp())
    admin = sa.generate_key()
    with sa.Store(tmp / "o.db", key=admin) as admin_store:
        writer_key = admin_store.issue_key("writer")
    baseline = proc.memory_info().rss
    with sa.Store(tmp / "o.db", key=writer_key) as store:
        rec = sa.Recorder(store, queue_size=args.queue_size)
        t0 = time.perf_counter()
        for i in range(args.calls):
            rec._emit(PendingBenchCall(i))
        produce_s = time.perf_counter() - t0
        rec.close()
    done.set()
    sampler.join()
    stats = rec.stats()
    mib = 1024 * 1024
    print(f"{args.calls:,} calls pushed in {produce_s:.1f} s "
          f"({args.calls / produce_s:,.0f} calls/s), queue_size={args.queue_size:,}")
    print(f"  written {stats.written:,}, dropped on overflow {stats.dropped_overflow:,}, "
          f"build errors {stats.build_errors}")
    print(f"  RSS before capture {baseline / mib:.0f} MiB, peak {peak[0] / mib:.0f} MiB "
          f"(bound {BOUND_MIB} MiB) -> {'MET' if peak[0] / mib <= BOUND_MIB else 'MISSED'}")


if __name__ == "__main__":
    main()
