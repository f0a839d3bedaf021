"""``pn.ipywidget(dashboard(t))`` is a working ipywidget (jupyter_bokeh), so the dashboard runs in front-ends that
render only ipywidgets (VS Code, Voila): built in a real kernel for a local Terminal, it carries the account, and
the terminal's updates reach it."""

from __future__ import annotations

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.ui

CELLS = [
    """\
import asyncio, json, tempfile
import ipywidgets
import panel as pn
from hedgestack.engine.terminal import Terminal
from hedgestack.ui import dashboard
pn.extension(inline=True)
t = Terminal.sim(tempfile.mkdtemp(), market="static", seed=1).start_sync()
vp = t.sync.create_vp("Widget", "BTCUSDT", "LONG")
board = dashboard(t)
w = pn.ipywidget(board)
print(type(w).__module__, type(w).__name__, isinstance(w, ipywidgets.DOMWidget))
print("has the VP:", "Widget" in json.dumps(w.render_bundle))
""",
    """\
t.sync.place_order(vp.id, "BUY", "MARKET", "0.002")
for _ in range(300):  # the kernel's loop runs the dashboard's drain between these sleeps
    if board.positions.grid.rows and any(r["k"] == vp.id and r["v"]["size"][0] == "0.002"
                                         for r in board.positions.grid.rows):
        break
    await asyncio.sleep(0.05)
print("row painted:", [r["v"]["size"][0] for r in board.positions.grid.rows if r["k"] == vp.id])
t.stop_sync()
""",
]


def test_ipywidget_in_a_kernel() -> None:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    NotebookClient(nb, timeout=180, kernel_name="python3").execute()
    out = ["".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream") for cell in nb.cells]
    assert "jupyter_bokeh.widgets BokehModel True" in out[0], out
    assert "has the VP: True" in out[0], out
    assert "row painted: ['0.002']" in out[1], out
