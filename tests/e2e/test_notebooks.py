"""Notebooks: nbval runs every notebook in notebooks/; terminal.ipynb renders inline in JupyterLab in the
browser and as an app under ``panel serve``, and ``pn.ipywidget(dashboard(t))`` renders through the ipywidgets
manager (jupyter_bokeh), all with local resources only (no CDN)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.e2e.conftest import ROOT, free_port, wait_until

pytestmark = pytest.mark.ui
NOTEBOOKS = ROOT / "notebooks"
BIN = Path(sys.executable).parent


#: notebooks that are clients of a running ``hedgestack serve`` (run by test_connect_notebook_beside_serve)
NEEDS_SERVE = {"connect.ipynb"}


def _nbval(notebooks: list[Path], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", *map(str, notebooks), "-q",
                           "-p", "no:cacheprovider", "-W", "ignore"], cwd=ROOT, capture_output=True, text=True,
                          timeout=240, env=env)


def test_every_notebook_runs_under_nbval() -> None:
    notebooks = sorted(p for p in NOTEBOOKS.glob("*.ipynb") if p.name not in NEEDS_SERVE)
    assert any(p.name == "terminal.ipynb" for p in notebooks)
    result = _nbval(notebooks)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_connect_notebook_beside_serve(tmp_path: Path) -> None:
    """notebooks/connect.ipynb against a running ``hedgestack serve``: connects, trades, shows the dashboard
    inline; the server sees its orders."""
    from tests.support.serveproc import Serve

    proc = Serve(["--market", "static", "--data-dir", str(tmp_path / "data")])
    try:
        proc.wait_live()
        env = {**os.environ, "HEDGESTACK_URL": proc.url}
        env.pop("HEDGESTACK_TOKEN", None)
        result = _nbval([NOTEBOOKS / "connect.ipynb"], env)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
        state = requests.get(proc.url + "/v1/state", timeout=10).json()
        notebook_vps = [vp for vp in state["virtual_positions"] if vp["name"].startswith("Notebook")]
        assert notebook_vps and all(vp["net_qty"] == "0" for vp in notebook_vps)
        orders = requests.get(proc.url + "/v1/orders/history", timeout=10).json()
        assert {o["virtual_position_id"] for o in orders} >= {vp["id"] for vp in notebook_vps}
    finally:
        proc.stop()


def test_connect_notebook_is_committed_without_outputs() -> None:
    nb = json.loads((NOTEBOOKS / "connect.ipynb").read_text())
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code")


def test_terminal_notebook_is_committed_without_outputs() -> None:
    nb = json.loads((NOTEBOOKS / "terminal.ipynb").read_text())
    assert all(not c.get("outputs") and not c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code")


def _serve(cmd: list[str], url: str, env: dict[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def up() -> bool:
        assert proc.poll() is None, f"{cmd[0]} exited"
        try:
            return requests.get(url, timeout=2).status_code == 200
        except requests.RequestException:
            return False

    wait_until(up, timeout=60, interval=0.3)
    return proc


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()


WIDGET_NOTEBOOK = {
    "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": [
        "import tempfile\n", "import panel as pn\n", "from hedgestack.engine.terminal import Terminal\n",
        "from hedgestack.ui import dashboard\n", "pn.extension(inline=True)\n",
        "t = Terminal.sim(tempfile.mkdtemp(), market='static', seed=1).start_sync()\n",
        "vp = t.sync.create_vp('Demo', 'BTCUSDT', 'LONG')\n",
        "t.sync.place_order(vp.id, 'BUY', 'MARKET', '0.010')\n",
        "t.sync.wait_idle()\n", "pn.ipywidget(dashboard(t))"]}],
    "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    "nbformat": 4, "nbformat_minor": 5}


def _lab(tmp_path: Path, notebook: str) -> Iterator[str]:
    """JupyterLab, headless, on a free port with a token, over a copy of the notebook."""
    work = tmp_path / "lab"
    work.mkdir()
    if notebook == "widget.ipynb":
        (work / notebook).write_text(json.dumps(WIDGET_NOTEBOOK))
    else:
        shutil.copy(NOTEBOOKS / notebook, work / notebook)
    port, token = free_port(), "hedgestack-e2e"
    env = {**os.environ, "HEDGESTACK_KEEP_RUNNING": "1", "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "ws")}
    proc = _serve([str(BIN / "jupyter"), "lab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
                   f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={work}",
                   "--allow-root", "--LabApp.news_url=",
                   "--ServerApp.disable_check_xsrf=True"], f"http://127.0.0.1:{port}/api?token={token}", env, work)
    yield f"http://127.0.0.1:{port}/lab/tree/{notebook}?token={token}"
    _stop(proc)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[str]:
    yield from _lab(tmp_path, "terminal.ipynb")


@pytest.fixture
def widget_lab(tmp_path: Path) -> Iterator[str]:
    yield from _lab(tmp_path, "widget.ipynb")


def _offsite(requests_seen: list[str]) -> list[str]:
    return [u for u in requests_seen if u.startswith("http") and "127.0.0.1" not in u and "localhost" not in u]


def _run_all(page: Page, url: str) -> None:
    page.set_viewport_size({"width": 1500, "height": 1200})
    page.goto(url)
    page.locator(".jp-Notebook").wait_for(timeout=60_000)
    select = page.locator(".jp-Dialog button", has_text="Select")
    try:  # JupyterLab may ask which kernel to start
        select.last.click(timeout=8_000)
    except Exception:  # noqa: BLE001 - no dialog: the notebook's kernel started directly
        pass
    expect(page.locator("#jp-main-statusbar")).to_contain_text("Idle", timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def test_ipywidget_renders_in_jupyterlab(page: Page, widget_lab: str, artifacts: Path) -> None:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    _run_all(page, widget_lab)
    output = page.locator(".jp-OutputArea-output")
    try:
        expect(output.locator(".hs-positions tr.vp", has_text="Demo")).to_be_visible(timeout=90_000)
    finally:
        page.screenshot(path=str(artifacts / "ui_ipywidget_jupyterlab.png"))
    expect(output.locator(".hs-freshness .hs-conn")).to_have_text("Connected", timeout=30_000)
    page.screenshot(path=str(artifacts / "ui_ipywidget_jupyterlab.png"))
    assert _offsite(seen) == [], _offsite(seen)


def test_notebook_renders_inline_in_jupyterlab(page: Page, lab: str, artifacts: Path) -> None:
    seen: list[str] = []
    page.on("request", lambda r: seen.append(r.url))
    _run_all(page, lab)
    positions = page.locator(".hs-positions")
    expect(positions).to_be_visible(timeout=90_000)
    expect(positions.locator("tr.vp", has_text="Demo")).to_be_visible(timeout=30_000)
    positions.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "ui_jupyterlab.png"))
    assert _offsite(seen) == [], _offsite(seen)


def test_notebook_serves_under_panel_serve(page: Page, tmp_path: Path, artifacts: Path) -> None:
    port = free_port()
    proc = _serve([str(BIN / "panel"), "serve", str(NOTEBOOKS / "terminal.ipynb"), f"--port={port}",
                   "--address=127.0.0.1", f"--allow-websocket-origin=127.0.0.1:{port}"],
                  f"http://127.0.0.1:{port}/terminal", {**os.environ, "HEDGESTACK_DATA_DIR": str(tmp_path)}, ROOT)
    try:
        seen: list[str] = []
        page.on("request", lambda r: seen.append(r.url))
        page.goto(f"http://127.0.0.1:{port}/terminal")
        expect(page.locator(".hs-positions tr.vp", has_text="Demo")).to_be_visible(timeout=60_000)
        expect(page.locator(".hs-freshness .hs-conn")).to_have_text("Connected", timeout=30_000)
        page.screenshot(path=str(artifacts / "ui_panel_serve.png"), full_page=True)
        assert _offsite(seen) == [], _offsite(seen)
    finally:
        _stop(proc)
