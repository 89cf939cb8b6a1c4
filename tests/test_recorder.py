"""The capture pipeline: background writer, durability, overflow policy, scrubber hook,
human-facing policy, failure isolation, and process lifecycle (exit, fork, kill -9)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

import slm_agents as sa
from slm_agents.errors import ConfigError


def make_record(i: int = 0, **fields: object) -> sa.CallRecord:
    return sa.CallRecord(messages=[sa.Message(role="user", content=f"question {i}")],
                         output=f"answer {i}", **fields)  # type: ignore[arg-type]


class SlowStore:
    """A real store behind a slow disk: every batch write takes ``delay`` seconds."""

    def __init__(self, store: sa.Store, delay: float) -> None:
        self.store, self.delay = store, delay

    def add_many(self, records: Sequence[sa.CallRecord], *,
                 raws: Sequence[sa.CallRecord | None] | None = None) -> int:
        time.sleep(self.delay)
        return self.store.add_many(records, raws=raws)


class BrokenDisk:
    """A sink whose every write fails, as a full or read-only disk would."""

    def add_many(self, records: Sequence[sa.CallRecord], *,
                 raws: Sequence[sa.CallRecord | None] | None = None) -> int:
        raise OSError("No space left on device")


def test_when_recorder_exits_its_context_then_every_record_is_stored(store: sa.Store) -> None:
    with sa.Recorder(store, agent="planner") as rec:
        for i in range(500):
            rec.record(make_record(i))
    assert len(store) == 500
    assert {r.agent for r in store.records()} == {"planner"}
    assert rec.stats().written == 500


def test_when_flush_returns_true_then_records_are_readable(store: sa.Store) -> None:
    rec = sa.Recorder(store, flush_interval_s=60)  # the writer would otherwise sleep a minute
    rec.record(make_record(1))
    assert rec.flush(timeout=10)
    assert [r.output for r in store.records()] == ["answer 1"]
    rec.close()


def test_with_sync_durability_the_record_is_stored_before_the_call_returns(store: sa.Store) -> None:
    rec = sa.Recorder(store, durability="sync")
    rec.record(make_record(7))
    assert len(store) == 1
    rec.close()


def test_when_the_same_record_is_captured_twice_then_it_is_stored_once(store: sa.Store) -> None:
    with sa.Recorder(store) as rec:
        record = make_record(3)
        rec.record(record)
        rec.flush()
        rec.record(record)
    assert len(store) == 1
    assert rec.stats().duplicates == 1


@pytest.mark.parametrize(
    ("policy", "kept"),
    [
        ("drop_new", "oldest"),  # the default: the queue keeps what it had, new calls are dropped
        ("drop_old", "newest"),  # the queue makes room by dropping its oldest waiting call
    ],
)
def test_when_the_disk_is_slower_than_the_agent_then_the_policy_drops_and_counts(
        store: sa.Store, policy: str, kept: str) -> None:
    rec = sa.Recorder(SlowStore(store, delay=0.5), queue_size=10, batch_size=10, overflow=policy)
    time.sleep(0.05)
    for i in range(100):
        rec.record(make_record(i))
    rec.close()
    stats = rec.stats()
    assert stats.dropped_overflow > 0
    assert stats.written + stats.dropped_overflow == 100
    outputs = {r.output for r in store.records()}
    assert ("answer 99" in outputs) == (kept == "newest")


def test_with_block_policy_nothing_is_dropped_while_the_writer_keeps_up(store: sa.Store) -> None:
    rec = sa.Recorder(SlowStore(store, delay=0.01), queue_size=5, batch_size=5,
                      overflow="block", block_timeout_s=5)
    for i in range(50):
        rec.record(make_record(i))
    rec.close()
    assert rec.stats().dropped_overflow == 0
    assert len(store) == 50


def test_when_every_write_fails_then_the_host_is_unaffected_and_drops_are_counted() -> None:
    rec = sa.Recorder(BrokenDisk())
    rec.record(make_record(1))  # must not raise
    assert rec.flush(timeout=30) is False
    assert rec.stats().dropped_write_failed == 1
    rec.close()


class UpperScrubber:
    """A scrubber in the Recorder's protocol: hides the user's words."""

    def __init__(self) -> None:
        self.thread_names: list[str] = []

    def scrub_record(self, record: sa.CallRecord) -> sa.CallRecord:
        self.thread_names.append(threading.current_thread().name)
        messages = [m.model_copy(update={"content": "<REDACTED>"}) for m in record.messages]
        return record.model_copy(update={"messages": messages})


def test_scrubber_runs_on_the_writer_thread_and_only_the_scrubbed_form_is_stored(
        store: sa.Store) -> None:
    scrubber = UpperScrubber()
    with sa.Recorder(store, scrubber=scrubber) as rec:
        rec.record(make_record(1))
    assert scrubber.thread_names == ["slm_agents-writer"]
    (stored,) = store.records()
    assert stored.messages[0].content == "<REDACTED>"
    (raw,) = store.records(raw=True)
    assert raw.messages[0].content == "<REDACTED>"  # no raw form was kept


def test_with_keep_raw_the_admin_can_read_the_unscrubbed_form(store: sa.Store) -> None:
    with sa.Recorder(store, scrubber=UpperScrubber(), keep_raw=True) as rec:
        rec.record(make_record(1))
    (raw,) = store.records(raw=True)
    assert raw.messages[0].content == "question 1"
    (view,) = store.records()
    assert view.messages[0].content == "<REDACTED>"


def test_when_the_scrubber_fails_then_the_record_is_dropped_not_stored_raw(store: sa.Store) -> None:
    def failing(record: sa.CallRecord) -> sa.CallRecord:
        raise RuntimeError("NER model missing")

    with sa.Recorder(store, scrubber=failing, keep_raw=True) as rec:
        rec.record(make_record(1))
    assert len(store) == 0
    assert rec.stats().dropped_scrub_failed == 1


@pytest.mark.parametrize(
    "record",
    [
        make_record(1, human_facing=True),                 # marked by the hook itself
        make_record(2, tags=["human_facing"]),             # marked by tag
        make_record(3, metadata={"human_facing": True}),   # marked by metadata
        make_record(4, agent="chat-ui"),                   # marked by the predicate below
    ],
)
def test_human_facing_calls_are_flagged_by_tag_metadata_or_predicate(
        store: sa.Store, record: sa.CallRecord) -> None:
    with sa.Recorder(store, is_human_facing=lambda r: r.agent == "chat-ui") as rec:
        rec.record(record)
    (stored,) = store.records()
    assert stored.human_facing is True


def test_with_skip_policy_human_facing_calls_are_not_stored(store: sa.Store) -> None:
    with sa.Recorder(store, human_facing="skip") as rec:
        rec.record(make_record(1, tags=["human-facing"]))
        rec.record(make_record(2))
    assert [r.output for r in store.records()] == ["answer 2"]
    assert rec.stats().dropped_human_facing == 1


def test_recorder_tags_and_metadata_are_merged_into_every_record(store: sa.Store) -> None:
    with sa.Recorder(store, tags=("prod",), metadata={"app": "x", "k": "default"}) as rec:
        rec.record(make_record(1, tags=["a"], metadata={"k": "own"}))
    (stored,) = store.records()
    assert stored.tags == ["a", "prod"]
    assert stored.metadata == {"app": "x", "k": "own"}


@pytest.mark.parametrize(
    "options",
    [
        {"durability": "eventually"},           # not a durability mode
        {"queue_size": 0},                      # a queue must hold something
        {"batch_size": 100, "queue_size": 10},  # a batch bigger than the queue
        {"queu_size": 10},                      # a misspelt option
    ],
)
def test_when_options_are_invalid_then_config_error_names_the_problem(
        store: sa.Store, options: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        sa.Recorder(store, **options)


def test_when_store_or_scrubber_has_the_wrong_shape_then_config_error(store: sa.Store) -> None:
    with pytest.raises(ConfigError, match="add_many"):
        sa.Recorder(object())  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="scrub_record"):
        sa.Recorder(store, scrubber=42)


def test_after_close_captured_calls_are_counted_not_raised(store: sa.Store) -> None:
    rec = sa.Recorder(store)
    rec.close()
    rec.close()  # idempotent
    rec.record(make_record(1))
    assert rec.stats().dropped_closed == 1
    assert rec.closed


def run_script(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=120)


def test_records_captured_without_flush_are_written_at_interpreter_exit(
        tmp_path: Path, admin_key: str) -> None:
    path = tmp_path / "exit.db"
    sa.Store(path, key=admin_key).close()
    done = run_script("""
        import sys, slm_agents as sa
        store = sa.Store(sys.argv[1], key=sys.argv[2])
        rec = sa.Recorder(store, flush_interval_s=60)
        for i in range(300):
            rec.record(sa.CallRecord(output=str(i)))
        # no flush, no close: the atexit hook must write them
    """, str(path), admin_key)
    assert done.returncode == 0, done.stderr
    with sa.Store(path, key=admin_key) as store:
        assert len(store) == 300


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_after_fork_the_child_captures_through_its_own_writer(tmp_path: Path,
                                                              admin_key: str) -> None:
    done = run_script("""
        import os, sys, slm_agents as sa
        store = sa.Store(sys.argv[1], key=sys.argv[2])
        rec = sa.Recorder(store)
        rec.record(sa.CallRecord(output="parent-before"))
        rec.flush()
        pid = os.fork()
        if pid == 0:
            rec.record(sa.CallRecord(output="child"))
            ok = rec.flush(timeout=30)
            rec.close()
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        rec.record(sa.CallRecord(output="parent-after"))
        rec.close()
        sys.exit(os.waitstatus_to_exitcode(status))
    """, str(tmp_path / "fork.db"), admin_key)
    assert done.returncode == 0, done.stderr
    with sa.Store(tmp_path / "fork.db", key=admin_key) as store:
        assert sorted(r.output or "" for r in store.records()) == [
            "child", "parent-after", "parent-before"]


def test_when_a_capturing_process_is_killed_then_everything_flushed_survives_once(
        tmp_path: Path, admin_key: str) -> None:
    path = tmp_path / "kill.db"
    sa.Store(path, key=admin_key).close()
    writer = subprocess.Popen([sys.executable, "-c", textwrap.dedent("""
        import sys, slm_agents as sa
        store = sa.Store(sys.argv[1], key=sys.argv[2])
        rec = sa.Recorder(store, batch_size=50)
        i = 0
        while True:
            for _ in range(100):
                rec.record(sa.CallRecord(id=f"r{i}", output="x" * 2000))
                i += 1
            if rec.flush(timeout=30):
                print(i, flush=True)   # acknowledged: every id below i is durable
    """), str(path), admin_key], stdout=subprocess.PIPE, text=True)
    acknowledged = 0
    assert writer.stdout is not None
    for line in writer.stdout:
        acknowledged = int(line)
        if acknowledged >= 2000:
            break
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait()
    with sa.Store(path, key=admin_key) as store:
        ids = [r.id for r in store.records()]
    assert len(ids) == len(set(ids))
    assert {f"r{i}" for i in range(acknowledged)} <= set(ids)


def test_two_processes_of_eight_threads_each_capture_every_call_exactly_once(
        tmp_path: Path, admin_key: str) -> None:
    path = tmp_path / "many.db"
    sa.Store(path, key=admin_key).close()
    writer_key_holder = sa.Store(path, key=admin_key)
    writer_key = writer_key_holder.issue_key("writer")
    writer_key_holder.close()
    script = """
        import sys, threading, slm_agents as sa
        store = sa.Store(sys.argv[1], key=sys.argv[2])
        proc = sys.argv[3]
        with sa.Recorder(store, batch_size=32) as rec:
            def work(t):
                for i in range(250):
                    rec.record(sa.CallRecord(id=f"{proc}-{t}-{i}", output="y" * 500))
            threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
            for th in threads: th.start()
            for th in threads: th.join()
        assert rec.stats().written == 2000, rec.stats()
    """
    procs = [subprocess.Popen([sys.executable, "-c", textwrap.dedent(script), str(path),
                               writer_key, name], stderr=subprocess.PIPE, text=True)
             for name in ("A", "B")]
    for proc in procs:
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, err
    with sa.Store(path, key=admin_key) as store:
        ids = [r.id for r in store.records()]
    assert len(ids) == 4000 and len(set(ids)) == 4000


def test_hook_errors_are_counted_every_time_but_logged_once_a_minute(
        store: sa.Store, caplog: pytest.LogCaptureFixture) -> None:
    rec = sa.Recorder(store)
    with caplog.at_level("WARNING", logger="slm_agents"):
        for _ in range(50):
            rec._hook_error(RuntimeError("bug in a hook"), "on_llm_end")
        rec._hook_error(RuntimeError("other"), "on_chain_start")
    assert rec.stats().hook_errors == 51
    assert [r.getMessage().split(" failed")[0] for r in caplog.records] == [
        "slm_agents capture: on_llm_end", "slm_agents capture: on_chain_start"]
    rec.close()
