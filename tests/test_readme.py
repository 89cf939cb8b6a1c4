"""The README's quick start runs as written (with LangChain's fake chat model as the chain)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.prompts import ChatPromptTemplate

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one() -> None:
    bash = re.findall(r"```bash\n(.*?)```", README.read_text(), flags=re.S)
    assert len(bash) == 2
    assert "slm-agents demo" in bash[0]
    ci = (README.parent / ".ci" / "run").read_text()
    *installs, test = (part.strip() for part in bash[1].strip().split("&&"))
    for install in installs:
        assert install.replace("-m pip install", "-m pip install -q") in ci
    assert test in ci


def test_quick_start_captures_the_chain_into_the_store(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    chain = (ChatPromptTemplate.from_messages([("human", "{question}")])
             | FakeListChatModel(responses=["It ships tomorrow."]))
    namespace = {"chain": chain}
    exec(python_blocks()[0], namespace)  # noqa: S102 - the README's own code
    store = namespace["store"]
    (record,) = store.records()
    assert record.agent == "support-bot"
    assert record.messages[0].content == "Where is my order?"
    assert record.output == "It ships tomorrow."
