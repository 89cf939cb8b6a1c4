"""Sustained ingest into the encrypted store, and peak memory.

Issue #2 target: at least 5,000 records/s of realistic size (a 2 KB conversation plus tool
schemas, ~4 KB as JSON) on 2 cores. Measures ``Store.add_many`` directly and end to end through a
``Recorder`` (hand-off to durable on disk), with a writer-role key as an agent would use.

    python bench/bench_store_ingest.py [--records 50000]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from _records import realistic_record

import slm_agents as sa


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    n = args.records
    # 1,024 distinct templates, copied with a fresh id per record: the process holds no more than
    # an agent would, so the peak RSS below is the store's and the recorder's, not the input's.
    templates = [realistic_record(i) for i in range(1024)]

    def records(start: int, stop: int) -> list[sa.CallRecord]:
        return [templates[i % 1024].model_copy(update={"id": f"rec-{i}"})
                for i in range(start, stop)]

    size = sum(len(r.to_json_bytes()) for r in templates) / len(templates)
    print(f"{n} records, mean JSON size {size / 1024:.1f} KiB, batches of {args.batch}")

    tmp = Path(tempfile.mkdtemp())
    admin = sa.generate_key()
    with sa.Store(tmp / "direct.db", key=admin) as admin_store:
        writer_key = admin_store.issue_key("writer")
    with sa.Store(tmp / "direct.db", key=writer_key) as store:
        t0 = time.perf_counter()
        for start in range(0, n, args.batch):
            store.add_many(records(start, min(n, start + args.batch)))
        direct = n / (time.perf_counter() - t0)
    print(f"  Store.add_many (writer key):   {direct:10,.0f} records/s  (target >= 5,000) -> "
          f"{'MET' if direct >= 5000 else 'MISSED'}")

    with sa.Store(tmp / "recorder.db", key=admin) as admin_store:
        writer_key = admin_store.issue_key("writer")
    with sa.Store(tmp / "recorder.db", key=writer_key) as store:
        rec = sa.Recorder(store, batch_size=args.batch, queue_size=n)
        t0 = time.perf_counter()
        for start in range(0, n, args.batch):
            for record in records(start, min(n, start + args.batch)):
                rec.record(record)
        rec.flush()
        through = n / (time.perf_counter() - t0)
        rec.close()
    print(f"  Recorder -> Store (durable):   {through:10,.0f} records/s  (target >= 5,000) -> "
          f"{'MET' if through >= 5000 else 'MISSED'}")
    db = tmp / "recorder.db"
    print(f"  file size: {db.stat().st_size / n:.0f} bytes per record")
    print(f"  peak RSS of this process: {peak_rss_mib():.0f} MiB "
          f"(the recorder's queue held up to {n:,} records here: queue_size=records)")


if __name__ == "__main__":
    main()
