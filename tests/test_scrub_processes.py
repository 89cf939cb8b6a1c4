"""``n_process="auto"`` starts worker processes only where spawning them cannot re-run a script."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from slm_agents.curate.parallel import spawn_is_safe

SCRIPTS = [
    # (script body, whether workers may be spawned)
    ("print(spawn_is_safe())", False),  # top level, no guard: workers would re-run it
    ("if __name__ == '__main__':\n    print(spawn_is_safe())", True),  # under the guard
    ("def main():\n    print(spawn_is_safe())\n\nif __name__ == '__main__':\n    main()",
     True),  # in a function called from under the guard
    ("def main():\n    print(spawn_is_safe())\n\nmain()", False),  # called from the top level
]


@pytest.mark.parametrize(("body", "safe"), SCRIPTS)
def test_spawn_is_safe_only_under_the_main_guard(tmp_path: Path, body: str, safe: bool) -> None:
    script = tmp_path / "job.py"
    script.write_text("from slm_agents.curate.parallel import spawn_is_safe\n"
                      + textwrap.dedent(body) + "\n")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == str(safe)


def test_spawn_is_safe_without_a_main_file() -> None:
    code = "from slm_agents.curate.parallel import spawn_is_safe; print(spawn_is_safe())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "True"


def test_pytest_runs_under_a_guard() -> None:
    assert spawn_is_safe() in (True, False)  # never raises, whatever the runner


def test_n_process_rejects_what_is_not_auto_or_a_positive_integer() -> None:
    pytest.importorskip("presidio_analyzer")
    from slm_agents.curate.scrubber import PIIScrubber
    from slm_agents.errors import ConfigError

    for bad in (0, -1, "two", True, 1.5):
        with pytest.raises(ConfigError, match="n_process"):
            PIIScrubber(n_process=bad).scrub("x")  # type: ignore[arg-type]
