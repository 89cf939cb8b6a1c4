"""The documentation site builds with ``mkdocs build --strict``, API reference included.

Strict mode turns every warning into a failure: a broken link or anchor, a page missing from the
nav, and mkdocstrings' warnings (an object it cannot find, a docstring it cannot parse).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("mkdocs")
pytest.importorskip("mkdocstrings_handlers.python")
pytest.importorskip("material")

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_the_site_builds_in_strict_mode_with_every_page_of_the_nav(site: Path) -> None:
    nav_pages = re.findall(r":\s*([\w-]+)\.md\s*$", (ROOT / "mkdocs.yml").read_text(), re.M)
    assert "index" in nav_pages and "api" in nav_pages
    for page in nav_pages:
        built = site / ("index.html" if page == "index" else f"{page}/index.html")
        assert built.is_file(), f"{page}.md was not built"


def test_every_api_reference_block_renders_its_object(site: Path) -> None:
    wanted = re.findall(r"^::: ([\w.]+)\s*$", (ROOT / "docs" / "api.md").read_text(), re.M)
    assert len(wanted) > 50
    page = (site / "api" / "index.html").read_text(encoding="utf-8")
    rendered = set(re.findall(r'<h\d id="([\w.]+)" class="doc doc-heading"', page))
    assert set(wanted) <= rendered, sorted(set(wanted) - rendered)
