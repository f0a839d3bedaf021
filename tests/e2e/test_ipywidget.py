"""``pn.ipywidget(dashboard(t))`` is a working ipywidget (jupyter_bokeh), so the dashboard runs in front-ends that
render only ipywidgets (VS Code, Voila): built in a real kernel, for a local Terminal and for
``hedgestack.connect(url)`` (a client of a running ``hedgestack serve``), it carries the account, and the
terminal's updates reach it."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.support.serveproc import Serve

pytestmark = pytest.mark.ui

OPEN = {
    "local": """\
from hedgestack.engine.terminal import Terminal
t = Terminal.sim(tempfile.mkdtemp(), market="static", seed=1).start_sync()
""",
    "connect": """\
import os, hedgestack
t = hedgestack.connect(os.environ["HEDGESTACK_TEST_URL"])
""",
}

CELLS = [
    """\
import asyncio, json, tempfile
import ipywidgets
import panel as pn
from hedgestack.ui import dashboard
pn.extension(inline=True)
{open}
vp = t.sync.create_vp("Widget", "BTCUSDT", "LONG")
board = dashboard(t)
w = pn.ipywidget(board)
print(type(w).__module__, type(w).__name__, isinstance(w, ipywidgets.DOMWidget))
print("has the VP:", "Widget" in json.dumps(w.render_bundle))
""",
    """\
t.sync.place_order(vp.id, "BUY", "MARKET", "0.002")
for _ in range(300):  # the kernel's loop runs the dashboard's drain between these sleeps
    if board.positions.grid.shown and any(r["k"] == vp.id and r["v"]["size"][0] == "0.002"
                                         for r in board.positions.grid.shown):
        break
    await asyncio.sleep(0.05)
print("row painted:", [r["v"]["size"][0] for r in board.positions.grid.shown if r["k"] == vp.id])
t.stop_sync()
""",
]


@pytest.mark.parametrize("terminal_kind", ["local", "connect"])
def test_ipywidget_in_a_kernel(terminal_kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    serve = None
    if terminal_kind == "connect":
        serve = Serve(["--market", "static", "--data-dir", str(tmp_path / "data")])
    try:
        if serve is not None:
            serve.wait_live(timeout=120)
            monkeypatch.setenv("HEDGESTACK_TEST_URL", serve.url)  # the kernel inherits it
        cells = [CELLS[0].format(open=OPEN[terminal_kind]), CELLS[1]]
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
        NotebookClient(nb, timeout=180, kernel_name="python3").execute()
    finally:
        if serve is not None:
            serve.stop()
    out = ["".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream") for cell in nb.cells]
    assert "jupyter_bokeh.widgets BokehModel True" in out[0], out
    assert "has the VP: True" in out[0], out
    assert "row painted: ['0.002']" in out[1], out
