"""Threads, processes, forks and kill -9 against one store file."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections import Counter
from pathlib import Path

import pytest

import slm_agents as sa
from slm_agents.store import Store, generate_key

THREADS = 8
BATCHES = 10
BATCH = 10


def _write_from_threads(path: str, key: str, prefix: str) -> None:
    """Run in a spawned process: 8 threads share one Store and write distinct records."""
    errors: list[BaseException] = []
    with Store(path, key) as store:

        def work(t: int) -> None:
            try:
                for b in range(BATCHES):
                    ids = [f"{prefix}-{t}-{b}-{i}" for i in range(BATCH)]
                    store.add_many([sa.CallRecord(id=i, agent=prefix) for i in ids])
            except BaseException as exc:  # reported to the parent through the exit code
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    if errors:
        raise errors[0]


def test_when_threads_share_one_store_then_every_record_is_stored_once(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db", generate_key()) as store:
        def work(t: int) -> None:
            for b in range(BATCHES):
                store.add_many([sa.CallRecord(id=f"{t}-{b}-{i}") for i in range(BATCH)])
                list(store.records(limit=5))  # reads interleave with writes

        threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ids = [r.id for r in store.records()]
        assert len(ids) == len(set(ids)) == THREADS * BATCHES * BATCH
        assert store.verify_audit()


def test_when_two_processes_of_eight_threads_write_at_once_then_every_record_is_stored_once(
    tmp_path: Path,
) -> None:
    path, admin = tmp_path / "s.db", generate_key()
    with Store(path, admin) as store:
        writer = store.issue_key("writer")
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_write_from_threads, args=(str(path), writer, f"p{n}"))
        for n in range(2)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=120)
        assert proc.exitcode == 0
    with Store(path, admin) as store:
        counts = Counter(r.id for r in store.records())
        assert len(counts) == 2 * THREADS * BATCHES * BATCH
        assert set(counts.values()) == {1}
        assert store.verify().intact


WRITER_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import slm_agents as sa
    from slm_agents.store import Store

    store = Store(sys.argv[1], os.environ["SLM_TEST_KEY"])
    batch = 0
    while True:
        ids = [f"b{batch}-r{i}" for i in range(50)]
        store.add_many([sa.CallRecord(id=i, output="x" * 2000) for i in ids])
        print(f"ACK {batch}", flush=True)  # printed only after the commit returned
        batch += 1
    """
)


def test_when_a_writer_is_killed_mid_stream_then_every_acknowledged_batch_survives(
    tmp_path: Path,
) -> None:
    path, admin = tmp_path / "s.db", generate_key()
    with Store(path, admin) as store:
        writer = store.issue_key("writer")
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER_SCRIPT, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "SLM_TEST_KEY": writer},
    )
    assert proc.stdout is not None
    acked = []
    for line in proc.stdout:
        acked.append(int(line.split()[1]))
        if len(acked) == 20:
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with Store(path, admin) as store:
        counts = Counter(r.id for r in store.records())
        assert set(counts.values()) == {1}  # nothing duplicated
        for batch in acked:
            assert all(f"b{batch}-r{i}" in counts for i in range(50))
        batches = Counter(i.split("-")[0] for i in counts)
        assert set(batches.values()) == {50}  # each batch landed whole or not at all
        assert store.verify().intact


ROTATE_SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from slm_agents.store import Store, maintenance

    real, calls = maintenance._reencrypt, [0]

    def slow(*args):
        calls[0] += 1
        if calls[0] == 900:
            print("IN-TRANSACTION", flush=True)
            time.sleep(60)  # the parent kills us here, mid-transaction
        return real(*args)

    maintenance._reencrypt = slow
    with Store(sys.argv[1], os.environ["SLM_TEST_KEY"]) as store:
        store.rotate_keys()
    print("FINISHED", flush=True)
    """
)


def test_when_rotation_is_killed_mid_transaction_then_old_key_still_reads_everything(
    tmp_path: Path,
) -> None:
    path, admin = tmp_path / "s.db", generate_key()
    with Store(path, admin) as store:
        for start in range(0, 1000, 100):
            store.add_many(
                [sa.CallRecord(output=f"r{i}", error="e" * 3000) for i in range(start, start + 100)]
            )
        curator = store.issue_key("curator")
    proc = subprocess.Popen(
        [sys.executable, "-c", ROTATE_SCRIPT, str(path)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "SLM_TEST_KEY": admin},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "IN-TRANSACTION"
    assert (tmp_path / "s.db-wal").stat().st_size > 0  # uncommitted pages spilled to the WAL
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for key in (admin, curator):
        with Store(path, key) as store:
            assert sorted(str(r.output) for r in store.records()) == sorted(
                f"r{i}" for i in range(1000)
            )
            assert store.verify().intact


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs POSIX fork")
def test_when_process_forks_then_the_child_writes_through_its_own_connection(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "s.db", generate_key()) as store:
        store.add(sa.CallRecord(id="parent-before"))
        parent_conn = store._conn
        pid = os.fork()
        if pid == 0:  # child: never return into pytest
            code = 1
            try:
                store.add(sa.CallRecord(id="child"))
                code = 0 if store._conn is not parent_conn else 2
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        store.add(sa.CallRecord(id="parent-after"))  # the parent's connection still works
        assert [r.id for r in store.records()] == ["parent-before", "child", "parent-after"]



def test_when_keys_rotate_while_threads_read_then_no_read_sees_a_false_failure(
    tmp_path: Path,
) -> None:
    with Store(tmp_path / "s.db", generate_key()) as store:
        for start in range(0, 600, 60):
            store.add_many([sa.CallRecord(output=str(i)) for i in range(start, start + 60)])
        counts: list[int] = []
        stop = threading.Event()

        def read() -> None:
            while not stop.is_set():
                counts.append(sum(1 for _ in store.records()))

        readers = [threading.Thread(target=read) for _ in range(3)]
        for reader in readers:
            reader.start()
        for _ in range(3):
            store.rotate_keys()
        stop.set()
        for reader in readers:
            reader.join()
        assert store.integrity_errors == []
        assert counts and set(counts) == {600}
