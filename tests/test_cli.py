"""The ``slm-agents`` command line and the demo it runs (capture of a LangChain app)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

import slm_agents as sa
from slm_agents.cli import cli
from slm_agents.demo import run_demo


def test_demo_captures_every_agent_call_into_an_encrypted_store(tmp_path: Path) -> None:
    result = run_demo(40, workdir=tmp_path, seed=1)
    assert result.calls == 120  # three LLM calls per request
    assert result.capture_stats["written"] == 120
    assert result.capture_stats["hook_errors"] == 0
    assert set(result.calls_per_agent) == {"triage", "tool_agent", "summariser", "responder"}
    assert result.calls_per_agent["triage"] == 40
    assert result.human_facing == 40  # the responder's answers
    assert result.plaintext_hits == 0
    assert result.writer_can_read is False
    with sa.Store(result.store_path, key=result.admin_key) as store:
        records = list(store.records())
    by_trace: dict[str, list[sa.CallRecord]] = {}
    for record in records:
        assert record.trace_id is not None
        by_trace.setdefault(record.trace_id, []).append(record)
    assert len(by_trace) == 40 and all(len(calls) == 3 for calls in by_trace.values())
    tool_calls = [r for r in records if r.agent == "tool_agent"]
    assert all(r.tool_calls and r.tool_names == ["get_weather", "convert_currency",
                                                 "book_meeting"] for r in tool_calls)


def test_cli_demo_prints_what_was_captured(tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["demo", "--requests", "10", "--workdir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "Captured 30 LLM calls" in out.output
    assert "found in clear in the store's files: 0" in out.output
    assert (tmp_path / "calls.db").exists()


def test_cli_rejects_bad_arguments_and_has_help() -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["demo", "--requests", "0"]).exit_code == 2
    help_out = runner.invoke(cli, ["--help"])
    assert help_out.exit_code == 0 and "demo" in help_out.output
    assert sa.__version__ in runner.invoke(cli, ["--version"]).output


def test_demo_with_scrub_stores_no_planted_email_even_in_the_decrypted_view(
        tmp_path: Path) -> None:
    plain = run_demo(30, workdir=tmp_path / "plain", seed=2)
    scrubbed = run_demo(30, workdir=tmp_path / "scrubbed", seed=2, scrub=True)
    assert plain.emails_in_view > 0  # the workload really plants them
    assert scrubbed.emails_in_view == 0
    assert scrubbed.calls == plain.calls
    assert scrubbed.capture_stats["dropped_scrub_failed"] == 0
