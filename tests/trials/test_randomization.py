"""Randomization lists (metaverdict.trials.randomization): balance, bounds, reproducibility,
stratification, CSV, bad input."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from metaverdict.errors import InputError
from metaverdict.trials.randomization import (
    RandomizationList,
    parse_strata,
    randomization_list,
)

STRATA = {"distance": ["half", "full"], "sex": ["F", "M"]}
ARMS = ["dry needling", "sham"]


def _cells(lst: RandomizationList) -> list[pd.DataFrame]:
    if not lst.strata:
        return [lst.allocations]
    return [g for _, g in lst.allocations.groupby(list(lst.strata), sort=False)]


def test_columns_numbering_and_length() -> None:
    lst = randomization_list(30, ARMS, seed=2018, strata=STRATA)
    tab = lst.allocations
    assert list(tab.columns) == ["sequence", "distance", "sex", "block", "block_size", "arm"]
    assert len(tab) == 4 * 30
    assert tab["sequence"].tolist() == list(range(1, 121))
    assert tab["block"].is_monotonic_increasing and tab["block"].iloc[0] == 1
    # strata in the order given, each once, each n long
    cells = list(dict.fromkeys(zip(tab["distance"], tab["sex"])))
    assert cells == list(itertools.product(*STRATA.values()))
    assert tab.groupby(["distance", "sex"]).size().eq(30).all()
    assert set(tab["arm"]) == set(ARMS)


@pytest.mark.parametrize("arms, ratio, sizes", [
    (ARMS, "1:1", (4, 6)), (ARMS, "2:1", (3, 6, 9)), (["a", "b", "c"], (1, 1, 1), (3, 6)),
    (["a", "b", "c"], "1:2:1", (4, 8)), (ARMS, (3, 2), (5, 10)),
])
@pytest.mark.parametrize("seed", [1, 2018, 99991])
def test_every_completed_block_is_exactly_balanced(arms, ratio, sizes, seed: int) -> None:
    lst = randomization_list(53, arms, seed=seed, ratio=ratio, block_sizes=sizes,
                             strata={"sex": ["F", "M"]})
    parts = dict(zip(arms, lst.ratio))
    unit = sum(lst.ratio)
    assert set(lst.allocations["block_size"]) <= set(sizes)
    for cell in _cells(lst):
        blocks = list(cell.groupby("block", sort=False))
        for i, (_, blk) in enumerate(blocks):
            size = int(blk["block_size"].iloc[0])
            assert (blk["block_size"] == size).all()
            if i < len(blocks) - 1:
                assert len(blk) == size              # only a stratum's last block is cut
            if len(blk) == size:
                counts = blk["arm"].value_counts().to_dict()
                assert counts == {a: parts[a] * size // unit for a in arms}
            else:
                assert len(blk) < size and i == len(blocks) - 1


@pytest.mark.parametrize("arms, ratio, sizes", [(ARMS, "1:1", (4, 6)), (ARMS, "2:1", (6, 9)),
                                                (ARMS, "1:1", (2, 8)), (ARMS, "3:1", (4, 8, 12)),
                                                (["a", "b", "c"], "1:1:2", (4, 8))])
def test_imbalance_bounded_by_half_the_largest_block(arms: list, ratio: str,
                                                     sizes: tuple) -> None:
    # at every point of every stratum's sequence (a trial may stop anywhere), not only at n
    for seed in range(60):
        n = 7 + seed % 41
        lst = randomization_list(n, arms, seed=seed, ratio=ratio, block_sizes=sizes,
                                 strata={"site": ["A", "B", "C"]})
        shares = np.asarray(lst.ratio) / sum(lst.ratio)
        arm = lst.allocations["arm"].to_numpy().reshape(3, n)        # strata are contiguous
        for seq in arm:
            onehot = seq[:, None] == np.asarray(arms)[None, :]
            counts = np.cumsum(onehot, axis=0)
            expected = np.arange(1, n + 1)[:, None] * shares[None, :]
            gap = np.abs(counts - expected)
            assert gap.max() <= max(sizes) / 2, (seed, gap.max())
            # tighter: a cut block of size b leaves arm a at most b p_a (1 - p_a) off
            assert np.all(gap <= max(sizes) * shares * (1 - shares) + 1e-9)
            assert counts[-1].sum() == n


def test_block_sizes_vary_and_are_drawn_from_the_set() -> None:
    lst = randomization_list(400, ARMS, seed=5, block_sizes="4,6")
    first = lst.allocations.groupby("block")["block_size"].first()
    assert set(first) == {4, 6}
    share = (first == 4).mean()
    assert 0.3 < share < 0.7                       # equal probability per block


def test_default_block_sizes_follow_the_ratio() -> None:
    assert randomization_list(10, ARMS, seed=1).block_sizes == (4, 6)
    assert randomization_list(10, ARMS, seed=1, ratio="2:1").block_sizes == (6, 9)
    assert randomization_list(10, ["a", "b", "c"], seed=1).block_sizes == (6, 9)


def test_same_seed_same_list_different_seed_different_list() -> None:
    a = randomization_list(120, ARMS, seed=2018, strata=STRATA, block_sizes=(4, 6))
    b = randomization_list(120, ARMS, seed=2018, strata=STRATA, block_sizes=(4, 6))
    c = randomization_list(120, ARMS, seed=2019, strata=STRATA, block_sizes=(4, 6))
    pd.testing.assert_frame_equal(a.allocations, b.allocations)
    assert not a.allocations["arm"].equals(c.allocations["arm"])
    assert a.seed == 2018 and a.numpy_version == np.__version__
    # numpy integers are whole numbers too
    d = randomization_list(np.int64(120), ARMS, seed=np.int64(2018), strata=STRATA,
                           block_sizes=(4, 6))
    pd.testing.assert_frame_equal(a.allocations, d.allocations)


def test_strata_get_independent_sequences() -> None:
    lst = randomization_list(60, ARMS, seed=11, strata=STRATA)
    seqs = [tuple(c["arm"]) for c in _cells(lst)]
    assert len(set(seqs)) == len(seqs)


def test_string_and_mapping_strata_give_the_same_list() -> None:
    a = randomization_list(20, ARMS, seed=3, strata="distance=half,full;sex=F,M")
    b = randomization_list(20, ARMS, seed=3, strata=STRATA)
    c = randomization_list(20, ARMS, seed=3, strata=[("distance", ("half", "full")),
                                                     ("sex", ("F", "M"))])
    pd.testing.assert_frame_equal(a.allocations, b.allocations)
    pd.testing.assert_frame_equal(a.allocations, c.allocations)
    assert parse_strata(" distance = half , full ;sex=F,M;") == {"distance": ("half", "full"),
                                                                 "sex": ("F", "M")}


def test_counts_and_stratum_lookup() -> None:
    lst = randomization_list(25, ARMS, seed=8, ratio="2:1", strata=STRATA)
    counts = lst.counts()
    assert list(counts.columns) == [*ARMS, "total"]
    assert list(counts.index) == list(itertools.product(*STRATA.values()))
    assert (counts["total"] == 25).all()
    rows = lst.stratum(distance="full", sex="F")
    assert len(rows) == 25 and (rows["distance"] == "full").all() and (rows["sex"] == "F").all()
    assert rows["sequence"].is_monotonic_increasing
    same = lst.stratum({"distance": "full", "sex": "F"})
    pd.testing.assert_frame_equal(rows, same)
    assert counts.loc[("full", "F"), "dry needling"] == (rows["arm"] == "dry needling").sum()
    plain = randomization_list(9, ARMS, seed=8)
    assert list(plain.counts().index) == ["all"] and len(plain.stratum()) == 9


@pytest.mark.parametrize("levels, message", [
    ({"distance": "ultra", "sex": "F"}, "'ultra' is not a level of 'distance'"),
    ({"distance": "half", "sex": "F", "age": "old"}, "unknown factor 'age'"),
    ({"distance": "half"}, "no level given for factor 'sex'"),
])
def test_unknown_stratum_names_the_field(levels: dict, message: str) -> None:
    lst = randomization_list(10, ARMS, seed=1, strata=STRATA)
    with pytest.raises(InputError, match=rf"^stratum: .*{message}"):
        lst.stratum(levels)


def test_csv_round_trip(tmp_path: Path) -> None:
    lst = randomization_list(30, ARMS, seed=2018, strata=STRATA)
    path = lst.to_csv(tmp_path / "list.csv")
    back = pd.read_csv(path, dtype={"distance": str, "sex": str})
    pd.testing.assert_frame_equal(back, lst.allocations, check_dtype=False)
    assert path.read_text().splitlines()[0] == "sequence,distance,sex,block,block_size,arm"
    again = randomization_list(30, ARMS, seed=2018, strata=STRATA).to_csv(tmp_path / "b.csv")
    assert again.read_bytes() == path.read_bytes()


def test_result_summary_and_dict() -> None:
    lst = randomization_list(30, ARMS, seed=2018, strata=STRATA, ratio="1:1")
    text = lst.summary(rows=5)
    assert "seed 2018" in text and "... 115 more" in text and "distance" in text
    assert text.count("\n") < 20
    d = json.loads(json.dumps(lst.to_dict()))
    assert d["allocations"]["sequence"][:3] == [1, 2, 3]
    assert d["arms"] == ARMS and d["strata"] == STRATA and d["ratio"] == [1, 1]
    assert repr(lst).startswith("RandomizationList(n=30")
    with pytest.raises(AttributeError):
        lst.seed = 3                                                # type: ignore[misc]


@pytest.mark.parametrize("kwargs, field", [
    (dict(arms=[]), "arms"),
    (dict(arms=["dn"]), "arms"),
    (dict(arms="dn,sham"), "arms"),
    (dict(arms=["dn", "dn"]), "arms"),
    (dict(arms=["dn", " "]), "arms"),
    (dict(n=0), "n"),
    (dict(n=-5), "n"),
    (dict(n=2.5), "n"),
    (dict(n=True), "n"),
    (dict(ratio="1:1:1"), "ratio"),
    (dict(ratio="2:0"), "ratio"),
    (dict(ratio="two:one"), "ratio"),
    (dict(ratio=(1.5, 1)), "ratio"),
    (dict(block_sizes=(4, 5)), "block_sizes"),
    (dict(ratio="2:1", block_sizes=(4, 6)), "block_sizes"),
    (dict(block_sizes=()), "block_sizes"),
    (dict(block_sizes=(0, 4)), "block_sizes"),
    (dict(block_sizes="4,x"), "block_sizes"),
    (dict(strata="sex"), "strata"),
    (dict(strata="sex=F,F"), "strata"),
    (dict(strata="sex=F,M;sex=F,M"), "strata"),
    (dict(strata={"sex": []}), "strata"),
    (dict(strata={"arm": ["F", "M"]}), "strata"),
    (dict(strata={"sex": "FM"}), "strata"),
    (dict(strata=";"), "strata"),
    (dict(seed=-1), "seed"),
    (dict(seed=1.5), "seed"),
    (dict(seed="2018"), "seed"),
])
def test_bad_input_names_the_field(kwargs: dict, field: str) -> None:
    args = dict(n=10, arms=ARMS, seed=1) | kwargs
    with pytest.raises(InputError, match=rf"^{field}:"):
        randomization_list(**args)
