"""The Curator end to end: estimator contract, inputs, scrubbing hook, sampling, determinism."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

import slm_agents as sa
from slm_agents.curate.curator import Curator
from slm_agents.curate.report import CurationReport
from slm_agents.errors import (
    ConfigError,
    CurationError,
    InvalidRecordError,
    MissingDependencyError,
    ScrubError,
)

T0 = datetime(2026, 5, 1, tzinfo=timezone.utc)
WORDS = "flight hotel oslo lima refund invoice seat window aisle visa train date card".split()


def records(n: int, tasks: Iterable[str] = ("search", "book", "refund"),
            seed: int = 0) -> list[sa.CallRecord]:
    rng = random.Random(seed)
    task_list = list(tasks)
    out = []
    for i in range(n):
        user = " ".join(rng.choice(WORDS) for _ in range(30))
        out.append(sa.CallRecord(
            id=f"r{i}", trace_id=f"t{i // 3}", agent="agent",
            messages=[sa.Message(role="system", content="You help travellers."),
                      sa.Message(role="user", content=f"{i}: {user}")],
            output=f"answer {i}: " + " ".join(rng.choice(WORDS) for _ in range(10)),
            started_at=T0 + timedelta(minutes=i), metadata={"task": task_list[i % len(task_list)]},
        ))
    return out


# ---------------------------------------------------------------- estimator contract
def test_get_params_round_trips_through_the_constructor() -> None:
    curator = Curator(dedupe="exact", target_size=100, seed=3, tokenizer=len)
    params = curator.get_params()
    clone = Curator(**params)
    assert clone.get_params() == params
    assert clone.target_size == 100 and not hasattr(clone, "report_")


def test_set_params_changes_arguments_and_refuses_unknown_names() -> None:
    curator = Curator()
    assert curator.set_params(keep="quality", seed=9) is curator
    assert (curator.keep, curator.seed) == ("quality", 9)
    with pytest.raises(ConfigError, match="valid parameters are: .*balance_tasks"):
        curator.set_params(kep="quality")
    assert repr(curator) == "Curator(keep='quality', seed=9)"


def test_nested_estimator_params_are_exposed_and_settable_the_sklearn_way() -> None:
    class Scrubber:
        def __init__(self, mode: str = "pseudonym") -> None:
            self.mode = mode

        def get_params(self, deep: bool = True) -> dict[str, Any]:
            return {"mode": self.mode}

        def set_params(self, **params: Any) -> Scrubber:
            self.__dict__.update(params)
            return self

        def scrub_record(self, record: sa.CallRecord) -> sa.CallRecord:
            return record

    curator = Curator(scrubber=Scrubber())
    assert curator.get_params()["scrubber__mode"] == "pseudonym"
    curator.set_params(scrubber__mode="placeholder", seed=2)
    assert curator.scrubber.mode == "placeholder" and curator.seed == 2
    # as in scikit-learn, the shallow params are the constructor's arguments
    assert Curator(**curator.get_params(deep=False)).get_params() == curator.get_params()


def test_run_restores_the_garbage_collector_even_when_it_fails() -> None:
    import gc

    assert gc.isenabled()
    with pytest.raises(CurationError):
        Curator().run([])
    assert gc.isenabled()
    gc.disable()
    try:
        Curator().run(records(2))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_sklearn_clone_works_on_the_curator() -> None:
    base = pytest.importorskip("sklearn.base")
    assert base.clone(Curator(seed=4)).get_params() == Curator(seed=4).get_params()


def test_init_only_stores_and_validation_happens_in_run() -> None:
    curator = Curator(dedupe="fuzzy")  # type: ignore[arg-type]  # no error yet
    with pytest.raises(ConfigError, match="none, exact, near"):
        curator.run(records(3))


@pytest.mark.parametrize(("params", "message"), [
    ({"keep": "oldest"}, "latest, quality"),
    ({"near_threshold": 1.5}, r"\(0, 1\]"),
    ({"max_tokens": 0}, "positive int"),
    ({"target_size": -5}, "positive int"),
    ({"seed": "zero"}, "seed must be an int"),
    ({"drop_errors": "yes"}, "True or False"),
    ({"scrubber": object()}, "scrub_records"),
    ({"tokenizer": 3}, "callable"),
    ({"batch_size": 0}, "positive int"),
])
def test_invalid_options_raise_config_error_listing_valid_values(params: dict[str, Any],
                                                                 message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Curator(**params).run(records(3))


# ---------------------------------------------------------------- inputs and tasks
def test_run_reads_every_record_of_a_store(store: sa.Store) -> None:
    store.add_many(records(12))
    dataset = Curator().run(store)
    assert len(dataset) == 12
    assert dataset.meta[0]["record_id"] == "r0" and dataset.meta[0]["trace_id"] == "t0"


def test_tasks_come_from_the_mapping_then_metadata_then_unassigned() -> None:
    batch = records(6)
    batch[5].metadata = {}
    dataset = Curator().run(batch, tasks={"r0": "special"})
    assert [m["task"] for m in dataset.meta] == [
        "special", "book", "refund", "search", "book", "unassigned"]
    report = Curator(task_key="missing").run(batch).report
    assert report is not None and report.per_task == {"unassigned": 6}


def test_dict_records_are_accepted_and_bad_ones_are_typed_errors() -> None:
    dicts = [r.model_dump() for r in records(3)]
    assert len(Curator().run(dicts)) == 3
    with pytest.raises(InvalidRecordError, match="item 1"):
        Curator().run([dicts[0], {"mesages": []}])
    with pytest.raises(TypeError, match="item 0 of records is a str"):
        Curator().run(["not a record"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="iterable of CallRecord or a Store"):
        Curator().run(42)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="wrap a single record"):
        Curator().run(records(1)[0])  # type: ignore[arg-type]


def test_empty_input_is_a_curation_error() -> None:
    with pytest.raises(CurationError, match="empty"):
        Curator().run([])


def test_when_nothing_survives_then_the_error_gives_the_drop_counts() -> None:
    batch = records(5)
    for record in batch[:3]:
        record.error = "boom"
    for record in batch[3:]:
        record.human_facing = True
    with pytest.raises(CurationError, match="error=3, human_facing=2"):
        Curator().run(batch)


def test_too_long_examples_are_dropped_by_the_given_tokenizer() -> None:
    batch = records(4)
    batch[1].output = "word " * 500
    curator = Curator(max_tokens=200, tokenizer=lambda text: len(text.split()))
    dataset = curator.run(batch)
    assert len(dataset) == 3 and curator.report_.dropped == {"too_long": 1}
    assert len(Curator(max_tokens=None).run(batch)) == 4


# ---------------------------------------------------------------- scrubbing hook
class UpperScrubber:
    """A stand-in for an injected scrubber: replaces 'oslo' and fails on records marked BAD."""

    def __init__(self, batched: bool = True) -> None:
        self.entity_counts: Counter[str] = Counter({"LOCATION": 100})  # counts from earlier use
        self.batch_calls = 0
        if not batched:
            self.scrub_records = None  # type: ignore[assignment]

    def scrub_record(self, record: sa.CallRecord) -> sa.CallRecord:
        if any("BAD" in (m.content or "") for m in record.messages):
            raise ScrubError("cannot scrub this one")
        messages = []
        for message in record.messages:
            content = message.content or ""
            self.entity_counts["LOCATION"] += content.count("oslo")
            messages.append(message.model_copy(update={"content": content.replace("oslo", "<L>")}))
        output = record.output or ""
        self.entity_counts["LOCATION"] += output.count("oslo")
        return record.model_copy(update={"messages": messages,
                                         "output": output.replace("oslo", "<L>")})

    def scrub_records(self, batch: list[sa.CallRecord]) -> list[sa.CallRecord]:
        self.batch_calls += 1
        return [self.scrub_record(r) for r in batch]


@pytest.mark.parametrize("batched", [True, False])
def test_a_record_that_cannot_be_scrubbed_is_dropped_never_kept_raw(batched: bool) -> None:
    batch = records(20)
    batch[7].messages[1].content = "BAD secret sk-live-123 oslo"
    scrubber = UpperScrubber(batched)
    curator = Curator(scrubber=scrubber, batch_size=8)
    dataset = curator.run(batch)
    assert len(dataset) == 19
    assert curator.report_.dropped == {"scrub_failed": 1}
    assert all("sk-live-123" not in str(e) and "oslo" not in str(e) for e in dataset)
    expected = sum(f"{r.messages[1].content} {r.output}".count("oslo")
                   for i, r in enumerate(batch) if i != 7)
    assert curator.report_.entities_scrubbed == {"LOCATION": expected}
    assert curator.report_.scrubber == "UpperScrubber"
    if batched:
        assert scrubber.batch_calls == 3  # batches of 8, 8, 4; the failing batch retried alone


def test_a_scrubber_returning_the_wrong_count_is_not_trusted() -> None:
    class Lossy(UpperScrubber):
        def scrub_records(self, batch: list[sa.CallRecord]) -> list[sa.CallRecord]:
            return batch[:-1]

    assert len(Curator(scrubber=Lossy()).run(records(5))) == 5


# ---------------------------------------------------------------- sampling and determinism
def test_sampling_balances_tasks_and_counts_sampled_out() -> None:
    batch = records(135, tasks=["a"])
    for i, record in enumerate(batch):
        record.metadata["task"] = "a" if i < 100 else "b" if i < 130 else "c"
    curator = Curator(target_size=60)
    dataset = curator.run(batch)
    assert dataset.tasks() == Counter({"a": 28, "b": 27, "c": 5})
    assert curator.report_.dropped == {"sampled_out": 75}
    proportional = Curator(target_size=60, balance_tasks=False).run(batch)
    assert proportional.tasks() == Counter({"a": 45, "b": 13, "c": 2})


def test_curation_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    batch = records(300) + [r.model_copy(update={"id": f"dup{r.id}"}) for r in records(40)]
    outputs = []
    for run in range(2):
        dataset = Curator(target_size=150, seed=5).run(list(batch))
        splits = dataset.split(seed=5)
        outputs.append(splits.train.to_jsonl(tmp_path / f"{run}.jsonl", include_meta=True)
                       .read_bytes())
    assert outputs[0] == outputs[1]
    other = Curator(target_size=150, seed=6).run(list(batch))
    assert [m["record_id"] for m in other.meta] != [m["record_id"] for m in dataset.meta]


def test_report_counts_and_renders() -> None:
    batch = records(10) + [records(1)[0].model_copy(update={"id": "copy"})]
    batch[2].error = "boom"
    curator = Curator()
    dataset = curator.run(batch)
    report = curator.report_
    assert dataset.report is report
    assert (report.n_in, report.n_out, report.duplicates_exact) == (11, 9, 1)
    assert report.dropped == {"error": 1, "duplicate_exact": 1}
    assert report.per_task_in == {"book": 3, "refund": 3, "search": 5}
    assert CurationReport.from_dict(report.to_dict()) == report
    markdown = report.to_markdown()
    assert "| error | 1 |" in markdown and "| search | 5 | 4 |" in markdown
    dataset.split(validation=0.2, test=0.2)
    assert "## Splits" in report.to_markdown()


def test_a_batch_error_naming_the_failed_records_is_used_without_rescrubbing() -> None:
    class PartialError(ScrubError):
        def __init__(self, record_ids: list[str], scrubbed: list[sa.CallRecord]) -> None:
            super().__init__("some failed")
            self.record_ids, self.scrubbed = record_ids, scrubbed

    class Isolating(UpperScrubber):
        def scrub_records(self, batch: list[sa.CallRecord]) -> list[sa.CallRecord]:
            self.batch_calls += 1
            bad = [r.id for r in batch if "BAD" in (r.messages[1].content or "")]
            done = [self.scrub_record(r) for r in batch if r.id not in bad]
            if bad:
                raise PartialError(bad, done)
            return done

        def scrub_record(self, record: sa.CallRecord) -> sa.CallRecord:
            if self.batch_calls > 1:
                raise AssertionError("records were scrubbed one by one again")
            return super().scrub_record(record)

    batch = records(6)
    batch[2].messages[1].content = "BAD"
    curator = Curator(scrubber=Isolating())
    dataset = curator.run(batch)
    assert [m["record_id"] for m in dataset.meta] == ["r0", "r1", "r3", "r4", "r5"]
    assert curator.report_.dropped == {"scrub_failed": 1}


@pytest.mark.parametrize("error", [MissingDependencyError("presidio_analyzer", "pii"),
                                   ConfigError("unknown entity")])
def test_a_broken_scrubber_setup_is_raised_not_counted_as_failed_records(
        error: Exception) -> None:
    class Broken:
        def scrub_records(self, batch: list[sa.CallRecord]) -> list[sa.CallRecord]:
            raise error

    with pytest.raises(type(error)):
        Curator(scrubber=Broken()).run(records(3))
