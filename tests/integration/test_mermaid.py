"""The Mermaid diagrams in docs/ parse with Mermaid itself (the pinned mermaid 11 that
scripts/vendor-mermaid.sh puts in .cache/mermaid, run in headless Chromium), so GitHub renders
them instead of an error box. No network at test time; without the file the test fails."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.integration.test_parity_html import chromium, open_page

__all__ = ["chromium"]  # the fixture, shared with the parity HTML test

MERMAID = REPO / ".cache" / "mermaid" / "mermaid.min.js"


@pytest.fixture(scope="module")
def mermaid() -> Path:
    if not MERMAID.is_file():
        pytest.fail(
            f"{MERMAID.relative_to(REPO)} is missing: run `scripts/vendor-mermaid.sh` "
            "(`make test` does)"
        )
    return MERMAID


def test_every_diagram_in_the_docs_parses(chromium: str, mermaid: Path, tmp_path: Path) -> None:
    blocks = {
        f"{doc.name}#{index}": block
        for doc in sorted((REPO / "docs").glob("*.md"))
        for index, block in enumerate(re.findall(r"```mermaid\n(.*?)```", doc.read_text(), re.S))
    }
    assert len(blocks) >= 3
    page = tmp_path / "diagrams.html"
    page.write_text(
        f"""<html><body><pre id="out">pending</pre>
<script src="{mermaid.as_uri()}"></script>
<script>
const blocks = {json.dumps(blocks)};
mermaid.initialize({{startOnLoad: false}});
(async () => {{
  const results = {{}};
  for (const [name, text] of Object.entries(blocks)) {{
    try {{ await mermaid.parse(text); results[name] = "ok"; }}
    catch (error) {{ results[name] = String(error.message).slice(0, 300); }}
  }}
  document.getElementById("out").textContent = JSON.stringify(results);
}})();
</script></body></html>"""
    )
    dom = open_page(
        chromium, page, tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom"
    )
    found = re.search(r'<pre id="out">(.*?)</pre>', dom.stdout, re.S)
    assert found is not None, dom.stderr[-500:]
    results = json.loads(found.group(1).replace("&quot;", '"'))
    assert results == {name: "ok" for name in blocks}
