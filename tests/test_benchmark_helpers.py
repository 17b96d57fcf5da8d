"""The benchmarks' timing helpers and tiny runs of them (behaviour only: no speed is asserted).

``_peers.rate`` is checked against a fake clock; ``sampler_speed.sampler_rates`` runs
on 8 classes of 8x8 images, where it must time every contender and derive its ratios
from the rates it reports.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


@pytest.fixture()
def bench(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    # the easyfsl shim patches torch's Sampler.__init__: restore it after the test
    monkeypatch.setattr(torch.utils.data.Sampler, "__init__", torch.utils.data.Sampler.__init__)
    import _peers
    import sampler_speed

    yield _peers, sampler_speed
    for name in ("_peers", "sampler_speed"):
        sys.modules.pop(name, None)


class FakeClock:
    """``perf_counter`` stand-in: every call of the timed function advances it by ``step``."""

    def __init__(self, step: float) -> None:
        self.now, self.step, self.calls = 0.0, step, 0

    def perf_counter(self) -> float:
        return self.now

    def tick(self, i: int) -> None:
        self.calls += 1
        self.now += self.step


def test_rate_runs_whole_chunks_until_min_seconds(bench, monkeypatch: pytest.MonkeyPatch) -> None:
    peers, _ = bench
    clock = FakeClock(0.1)
    monkeypatch.setattr(peers.time, "perf_counter", clock.perf_counter)
    # 3 warm-up calls, then chunks of 3 calls (0.3 s each) until 1.0 s has passed: 4 chunks, 1.2 s
    assert peers.rate(clock.tick, 3, min_seconds=1.0) == pytest.approx(12 / 1.2)
    assert clock.calls == 3 + 12


def test_rate_without_min_seconds_times_n_calls(bench, monkeypatch: pytest.MonkeyPatch) -> None:
    peers, _ = bench
    clock = FakeClock(0.25)
    monkeypatch.setattr(peers.time, "perf_counter", clock.perf_counter)
    assert peers.rate(clock.tick, 5, warmup=0) == pytest.approx(4.0)
    assert clock.calls == 5


def test_median_rates_passes_min_seconds(bench, monkeypatch: pytest.MonkeyPatch) -> None:
    peers, _ = bench
    clock = FakeClock(0.5)
    monkeypatch.setattr(peers.time, "perf_counter", clock.perf_counter)
    rates = peers.median_rates({"a": clock.tick}, 1, repeats=3, min_seconds=2.0)
    assert rates == {"a": pytest.approx(2.0)}
    assert clock.calls == 3 * (3 + 4)


def test_sampler_speed_times_every_contender(bench) -> None:
    _, sampler_speed = bench
    results = sampler_speed.sampler_rates(episodes=2, repeats=1, classes=8, per_class=25, size=8, seconds=0.0)
    for key in ("fsfer", "learn2learn", "easyfsl", "fsfer_plain_pages", "fsfer_indices_only", "copy_floor", "gather_floor"):
        assert results[key] > 0, key
    assert results["fsfer_vs_learn2learn"] == pytest.approx(results["fsfer"] / results["learn2learn"])
    assert results["fsfer_vs_easyfsl"] == pytest.approx(results["fsfer"] / results["easyfsl"])
    assert results["copy_floor_vs_learn2learn"] == pytest.approx(results["copy_floor"] / results["learn2learn"])
    assert results["gather_floor_vs_learn2learn"] == pytest.approx(results["gather_floor"] / results["learn2learn"])
    assert results["fsfer_vs_gather_floor"] == pytest.approx(results["fsfer"] / results["gather_floor"])


def test_disjoint_speed_times_both_draws(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import disjoint_speed

    result = disjoint_speed.main(["--images", "3000", "--episodes", "20", "--rounds", "1", "--out", str(tmp_path / "d.json")])
    assert [(r["people"], r["k_shot"]) for r in result["rows"]] == [("many", 1), ("many", 5), ("few", 1), ("few", 5)]
    assert all(r["plain_s"] > 0 and r["disjoint_s"] > 0 for r in result["rows"]) and (tmp_path / "d.json").is_file()


def test_identity_leakage_pairs_the_two_sets(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import identity_leakage

    rows = identity_leakage.main(["--data", "synth?subjects=16,per_subject=2,size=32", "--episodes", "8", "--shots", "1",
                                  "--q-query", "3", "--results-dir", str(tmp_path), "--name", "leak"])
    (row,) = rows  # the raw-pixel baseline (no checkpoint given)
    assert row["model"].startswith("pixels") and 0 < row["shared_queries"] < 1
    assert row["gap"] == pytest.approx(row["leaky"] - row["disjoint"], abs=2e-4)
    assert "| pixels (nearest class mean) | 1 |" in (tmp_path / "leak.md").read_text()


def test_ablate_crn_rows_seeds_and_validation_ranking(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import csv

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    import ablate_crn

    code = ablate_crn.main([
        "--protocols", "synth-basic-to-compound", "--data", "synth?subjects=30,per_subject=2,size=32",
        "--episodes", "3", "--test-episodes", "4", "--val-episodes", "2", "--seeds", "2", "--shots", "1,5",
        "--variants", "0,1,2", "--name", "abl", "--results-dir", str(tmp_path), "--out-dir", str(tmp_path / "runs"),
    ])
    assert code == 0
    with (tmp_path / "abl.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    # DAP -> sum runs at 5-shot only (with one shot the sum is the mean); two seeds per row
    base, dap_sum, no_dist = (v[0] for v in ablate_crn.VARIANTS[:3])
    assert [(r["variant"], r["k_shot"], r["seed"]) for r in rows] == [
        (base, "1", "0"), (base, "1", "1"), (no_dist, "1", "0"), (no_dist, "1", "1"),
        (base, "5", "0"), (base, "5", "1"), (dap_sum, "5", "0"), (dap_sum, "5", "1"), (no_dist, "5", "0"), (no_dist, "5", "1"),
    ]
    # every option a row keeps from its base is written out
    assert {r["options"] for r in rows} == {"js_on=encoder", "js_on=encoder pool=sum", "js_on=encoder lambda_dist=0.0"}
    assert len({r["episode_file"] for r in rows if r["k_shot"] == "5"}) == 1  # every row replays one file
    text = (tmp_path / "abl.md").read_text()
    assert f"| {dap_sum} | - |" in text and "Validation accuracy" in text
    assert f"- {base}: validation" in text and f"- {dap_sum}" not in text  # ranked only where it ran everywhere
    assert (tmp_path / "abl.png").read_bytes()[:4] == b"\x89PNG"
    # the table can be drawn again from the CSV, training nothing
    again = tmp_path / "again"
    again.mkdir()
    assert ablate_crn.main(["--from-csv", str(tmp_path / "abl.csv"), "--name", "abl", "--results-dir", str(again)]) == 0
    assert (again / "abl.md").read_text().split("Command:")[0] == text.split("Command:")[0]
