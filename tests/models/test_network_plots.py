"""Network graph and league-table plots: compared with reference images (pixel tolerance, as
tests/report/test_plot_images.py does), and labels legible (no overlaps, inside their cells)
from 3 to 20 treatments.

Regenerate the references after a deliberate change with ``METAVERDICT_UPDATE_IMAGES=1
python -m pytest tests/models/test_network_plots.py`` and look at them before committing.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.testing.compare import compare_images  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402
from test_network_parity import fit  # noqa: E402

from metaverdict.errors import InputError  # noqa: E402
from metaverdict.network import network_meta_analysis  # noqa: E402
from metaverdict.report.plots.network import league_table_plot, network_graph_plot  # noqa: E402

IMAGES = Path(__file__).parents[1] / "data" / "netmeta" / "images"
TOL = 2.0
UPDATE = os.environ.get("METAVERDICT_UPDATE_IMAGES") == "1"


def _compare(fig: matplotlib.figure.Figure, name: str, tmp_path: Path) -> None:
    got = tmp_path / f"{name}.png"
    fig.savefig(got, dpi=80)
    want = IMAGES / f"{name}.png"
    if UPDATE or not want.exists():
        IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copy(got, want)
        if not UPDATE:
            pytest.fail(f"reference image {want} was missing and has been written; look at it")
    assert compare_images(str(want), str(got), tol=TOL) is None


def test_network_graph_image(tmp_path: Path) -> None:
    _compare(network_graph_plot(fit("Senn2013__MD"), title="Senn 2013"), "netgraph_senn2013",
             tmp_path)


def test_league_table_image(tmp_path: Path) -> None:
    _compare(league_table_plot(fit("dietaryfat__IRR"), title="dietaryfat"),
             "league_dietaryfat", tmp_path)


def _network(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = [f"Long treatment name {i}" if i % 3 == 0 else f"Drug {chr(65 + i)}"
             for i in range(n)]
    rows = [(f"s{i}", names[i], names[(i + 1) % n], rng.normal(0, .5), rng.uniform(.1, .4))
            for i in range(n)]
    rows += [(f"t{i}", names[i], names[(i + 3) % n], rng.normal(0, .5), rng.uniform(.1, .4))
             for i in range(0, n, 2) if (i + 3) % n != i]
    return pd.DataFrame(rows, columns=["studlab", "treat1", "treat2", "TE", "seTE"])


def _boxes(fig: matplotlib.figure.Figure, gid: str) -> list[Bbox]:
    renderer = fig.canvas.get_renderer()
    return [t.get_window_extent(renderer) for t in fig.axes[0].texts if t.get_gid() == gid]


@pytest.mark.parametrize("n", [3, 5, 8, 12, 16, 20])
def test_graph_labels_do_not_overlap(n: int) -> None:
    net = network_meta_analysis(_network(n), method_tau="DL")
    fig = network_graph_plot(net)
    fig.canvas.draw()
    boxes = _boxes(fig, "treatment-label")
    assert len(boxes) == n
    frame = fig.bbox
    for i, a in enumerate(boxes):
        assert frame.x0 <= a.x0 and a.x1 <= frame.x1 and frame.y0 <= a.y0 and a.y1 <= frame.y1
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (n, a, b)
    assert min(t.get_fontsize() for t in fig.axes[0].texts) >= 6


@pytest.mark.parametrize("n", [3, 10, 20])
def test_league_text_fits_its_cells(n: int) -> None:
    net = network_meta_analysis(_network(n), method_tau="DL", sm="OR")
    fig = league_table_plot(net)
    fig.canvas.draw()
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    cell_w = abs(ax.transData.transform((1, 0))[0] - ax.transData.transform((0, 0))[0])
    cell_h = abs(ax.transData.transform((0, 1))[1] - ax.transData.transform((0, 0))[1])
    texts = [t for t in ax.texts if t.get_position()[1] < n]
    assert len(texts) == n * n - (n * n - n) // 2 + int(np.isfinite(
        net.league().estimate[np.triu_indices(n, 1)]).sum())
    for t in texts:
        bb = t.get_window_extent(renderer)
        assert bb.width <= cell_w and bb.height <= cell_h, (t.get_text(), bb, cell_w, cell_h)
        assert t.get_fontsize() >= 6
    note = [t for t in ax.texts if t.get_position()[1] >= n]
    assert len(note) == 1 and "column vs row" in note[0].get_text()
    bb = note[0].get_window_extent(renderer)
    assert fig.bbox.x0 <= bb.x0 and bb.x1 <= fig.bbox.x1 and fig.bbox.y0 <= bb.y0


def test_plot_arguments_are_checked() -> None:
    net = fit("dietaryfat__IRR")
    with pytest.raises(InputError, match="order"):
        network_graph_plot(net, order=["1", "2"])
    with pytest.raises(InputError, match="model"):
        league_table_plot(net, model="fixed-ish")
