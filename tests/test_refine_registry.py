"""The model registry: versions, promotion, rollback, and consistency after crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_refine_support import T0, RuleSpecialist

from slm_agents.errors import ConfigError, ModelLoadError
from slm_agents.refine import DataWindow, ModelRegistry


@pytest.fixture
def registry(tmp_path: Path) -> ModelRegistry:
    return ModelRegistry(tmp_path / "registry")


def _spec(tag: str) -> RuleSpecialist:
    return RuleSpecialist("math", tag=tag)


def test_a_new_registry_is_empty_at_revision_zero(registry: ModelRegistry) -> None:
    assert registry.tasks() == [] and registry.revision() == 0
    assert registry.current(3) is None and registry.history(3) == []
    assert registry.verify() == []


def test_register_copies_the_files_and_records_window_metrics_and_parent(
        registry: ModelRegistry, tmp_path: Path) -> None:
    folder = _spec("one").save(tmp_path / "saved")
    window = DataWindow(since=T0, until=T0.replace(hour=5), n_records=10, n_examples=8)
    first = registry.register(3, folder, metrics={"agreement": 0.95, "n": 40}, window=window)
    second = registry.register(3, _spec("two"), metrics=None, window=(T0, T0), parent=1)
    assert (first.version, first.status, first.parent) == (1, "candidate", None)
    assert first.window == window and first.metrics == {"agreement": 0.95, "n": 40}
    assert (second.version, second.parent) == (2, 1)
    # The registry holds its own copy: the original folder may go.
    (folder / "rule.json").unlink()
    assert RuleSpecialist.load(first.path).tag == "one"
    assert registry.load(3, 2, loader=RuleSpecialist.load).tag == "two"
    assert registry.tasks() == [3] and registry.revision() == 2


def test_full_eval_report_is_kept_beside_the_version_and_summarised_in_the_index(
        registry: ModelRegistry) -> None:
    from slm_agents.evaluate import evaluate

    examples = [{"messages": [{"role": "user", "content": "Please add 1 and 2 together."},
                              {"role": "assistant", "content": "3"}]}]
    report = evaluate(RuleSpecialist("math"), examples, bootstrap=0, progress=False)
    info = registry.register("math", _spec("x"), metrics=report)
    assert info.metrics["agreement"] == 1.0 and info.metrics["n"] == 1
    assert registry.metrics("math", 1) == report.to_dict()


def test_promote_retires_the_previous_version_and_rollback_restores_it(
        registry: ModelRegistry) -> None:
    for tag in ("a", "b", "c"):
        registry.register(3, _spec(tag))
    registry.promote(3, 1)
    registry.promote(3, 2)
    assert [v.status for v in registry.history(3)] == ["retired", "promoted", "candidate"]
    registry.promote(3, 3)
    restored = registry.rollback(3, reason="too many escalations")
    assert restored is not None and restored.version == 2
    statuses = {v.version: (v.status, v.reason) for v in registry.history(3)}
    assert statuses[3] == ("rejected", "too many escalations")
    assert statuses[2][0] == "promoted" and statuses[1][0] == "retired"
    assert registry.rollback(3).version == 1  # type: ignore[union-attr]
    # Rolling back the last one leaves no specialist: the LLM serves the task.
    assert registry.rollback(3) is None and registry.current(3) is None
    assert registry.verify() == []
    with pytest.raises(ConfigError, match="no promoted version"):
        registry.rollback(3)


def test_promoting_the_current_version_changes_nothing(registry: ModelRegistry) -> None:
    registry.register("t", _spec("a"))
    registry.promote("t", 1)
    revision = registry.revision()
    registry.promote("t", 1)
    assert registry.revision() == revision


def test_every_change_bumps_the_revision_seen_by_another_registry_object(
        registry: ModelRegistry) -> None:
    other = ModelRegistry(registry.root)
    registry.register("t", _spec("a"))
    assert other.revision() == 1
    registry.promote("t", 1)
    assert other.revision() == 2 and other.current("t").version == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("call, message", [
    # unknown task
    (lambda r: r.promote("nope", 1), "no task 'nope'"),
    # unknown version
    (lambda r: r.promote("t", 9), "no version 9"),
    # a promoted version is taken out with rollback, not reject
    (lambda r: (r.promote("t", 1), r.reject("t", 1)), "use rollback"),
    # register cannot promote in one step
    (lambda r: r.register("t", _spec("b"), status="promoted"), "status 'candidate'"),
    # a parent must exist
    (lambda r: r.register("t", _spec("b"), parent=7), "no version 7"),
    # a folder that does not exist
    (lambda r: r.register("t", "/nonexistent/folder"), "does not exist"),
    # tasks are ints or strings
    (lambda r: r.register(1.5, _spec("b")), "int or a str"),
])
def test_bad_requests_raise_config_errors_naming_the_fix(registry: ModelRegistry, call,
                                                         message: str) -> None:
    registry.register("t", _spec("a"))
    with pytest.raises(ConfigError, match=message):
        call(registry)
    assert registry.verify() == []


def test_prune_deletes_files_of_versions_that_cannot_serve_again(
        registry: ModelRegistry) -> None:
    for tag in "abcde":
        registry.register("t", _spec(tag))
    for version in (1, 2, 3, 4):
        registry.promote("t", version)
    registry.reject("t", 5, "worse")
    pruned = registry.prune("t", keep_retired=2)
    assert sorted(v.version for v in pruned) == [1, 5]
    history = {v.version: v for v in registry.history("t")}
    assert history[1].path is None and history[5].path is None and history[2].path is not None
    assert registry.verify() == [] and registry.garbage() == []
    with pytest.raises(ModelLoadError, match="pruned"):
        registry.load("t", 1, loader=RuleSpecialist.load)


def test_a_corrupt_index_is_reported_not_misread(tmp_path: Path) -> None:
    root = tmp_path / "registry"
    root.mkdir()
    (root / "index.json").write_text("{ not json")
    with pytest.raises(ModelLoadError, match="cannot be read"):
        ModelRegistry(root)


def test_a_failed_index_write_leaves_the_registry_as_it_was(registry: ModelRegistry,
                                                            monkeypatch) -> None:
    registry.register("t", _spec("a"))
    registry.promote("t", 1)
    before = (registry.root / "index.json").read_bytes()
    real_replace = os.replace

    def failing_replace(src, dst):  # the version folder moves in, the index write fails
        if str(dst).endswith("index.json"):
            raise OSError("disk full")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        registry.register("t", _spec("b"))
    with pytest.raises(OSError, match="disk full"):
        registry.rollback("t")
    monkeypatch.setattr(os, "replace", real_replace)
    assert (registry.root / "index.json").read_bytes() == before
    assert registry.current("t").version == 1  # type: ignore[union-attr]
    assert [v.version for v in registry.history("t")] == [1]
    assert registry.verify() == []
    assert not list(registry.root.glob(".tmp-*"))  # the temporary index was removed
    # The orphan folder of the failed register is garbage, and the next register reuses v2.
    assert [p.name for p in registry.garbage()] == ["v2"]
    assert registry.register("t", _spec("c")).version == 2
    assert RuleSpecialist.load(registry.get("t", 2).path).tag == "c"


_WRITER = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from slm_agents.refine import ModelRegistry
    from test_refine_support import RuleSpecialist
    registry = ModelRegistry({root!r})
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        info = registry.register("t", RuleSpecialist("math", tag=str(i)),
                                 metrics={{"agreement": 0.9}})
        if i % 3:
            registry.promote("t", info.version)
        elif registry.current("t") is not None and i % 2:
            registry.rollback("t")
        else:
            registry.reject("t", info.version, "worse")
""")


def test_a_writer_killed_at_any_moment_leaves_a_consistent_registry(tmp_path: Path) -> None:
    root = tmp_path / "registry"
    tests = str(Path(__file__).parent)
    for delay in (0.05, 0.13, 0.31, 0.6):
        child = subprocess.Popen([sys.executable, "-c", _WRITER.format(tests=tests,
                                                                       root=str(root))],
                                 stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)
        child.wait()
        registry = ModelRegistry(root)
        assert registry.verify() == [], delay
        json.loads((root / "index.json").read_text())
        current = registry.current("t")
        if current is not None:
            assert RuleSpecialist.load(current.path).skill == "math"
    assert len(ModelRegistry(root).history("t")) > 3


def test_the_refine_package_imports_light_and_exports_sorted_names() -> None:
    import slm_agents.refine as refine

    assert refine.__all__ == sorted(refine.__all__)
    code = ("import sys, json, slm_agents.refine as r; r.Flywheel; r.ModelRegistry; "
            "r.RegistrySpecialists; r.RoundReport; r.DriftReport; "
            "print(json.dumps([m for m in ('torch', 'sklearn', 'numpy', 'transformers', "
            "'scipy', 'langchain_core') if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert json.loads(out.stdout) == []
