"""The scrubber never reaches the network, and importing it loads nothing heavy."""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import Any

import pytest

pytest.importorskip("presidio_analyzer")


def test_engine_build_and_scrubbing_open_no_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    attempts: list[str] = []

    def refuse(name: str) -> Any:
        def blocked(*args: Any, **kwargs: Any) -> Any:
            attempts.append(f"{name}{args[:2]!r}")
            raise OSError(f"network disabled in this test ({name})")
        return blocked

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    with pytest.raises(OSError):  # the guard works
        socket.create_connection(("publicsuffix.org", 443))
    attempts.clear()

    from slm_agents.curate import recognizers
    from slm_agents.curate.scrubber import PIIScrubber

    recognizers.offline_tld_extractor.cache_clear()  # the suffix list is loaded in here
    scrubber = PIIScrubber(key="k")  # the engine (spaCy, recognisers) is built in here
    text = ("Mail jane.doe@acme-corp.co.uk or bob@example.org, see https://portal.acme.com/u/1 "
            "and www.northwind.io; John Smith lives in Boston.")
    out = scrubber.scrub(text)
    assert "jane.doe@acme-corp.co.uk" not in out and "bob@example.org" not in out
    assert "portal.acme.com" not in out and "John Smith" not in out
    assert attempts == []


def test_importing_the_scrubber_loads_no_heavy_module() -> None:
    code = ("import sys, slm_agents.curate.scrubber as s; s.PIIScrubber(mode='placeholder'); "
            "print(sorted(m for m in ('presidio_analyzer', 'spacy', 'thinc', 'tldextract') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_without_presidio_using_the_scrubber_names_the_extra_to_install() -> None:
    code = ("import sys; sys.modules['presidio_analyzer'] = None\n"
            "from slm_agents.curate.scrubber import PIIScrubber\n"
            "from slm_agents.errors import MissingDependencyError\n"
            "scrubber = PIIScrubber()  # constructing works; using needs the extra\n"
            "try:\n"
            "    scrubber.scrub('Maria Garcia')\n"
            "except MissingDependencyError as exc:\n"
            "    print(exc)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "pip install 'slm-agents[pii]'" in out.stdout
