"""fedkit.sweep: configurations, a tiny sweep's table and figures, and the CLI around it."""

import csv

import pytest

from fedkit import cli, sizing, sweep


def test_grid_names_are_unique_and_selectable():
    grid = sweep.default_grid()
    names = [c.name for c in grid]
    assert len(names) == len(set(names)) and "identity" in names
    assert [c.name for c in sweep.select(grid, ["uniform:8 both", "identity"])] == ["uniform:8 both", "identity"]
    with pytest.raises(ValueError, match=r"unknown configurations \['uniform:3 both'\]"):
        sweep.select(grid, ["uniform:3 both"])


def test_ratios_against_identity():
    rows = [
        {"broadcast": "identity", "aggregate": "identity", "downlink_bits_per_client_round": 3200,
         "uplink_bits_per_client_round": 3300},
        {"broadcast": "uniform:8", "aggregate": "identity", "downlink_bits_per_client_round": 1000,
         "uplink_bits_per_client_round": 3300},
    ]  # fmt: skip
    sweep.add_ratios(rows)
    assert [(r["downlink_ratio"], r["uplink_ratio"]) for r in rows] == [(1.0, 1.0), (3.2, 1.0)]


def test_tiny_sweep_writes_table_and_figures(emnist, sample_cache, tmp_path):
    configs = sweep.select(sweep.default_grid(), ["identity", "uniform:8 both"])
    settings = sweep.SweepSettings(rounds=1, clients_per_round=2, epochs=1, seeds=(0,))
    rows, histories = sweep.run_sweep(configs, settings, tmp_path, cache_dir=sample_cache, verbose=False)
    with open(tmp_path / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["configuration"] for r in table] == ["identity", "uniform:8 both"]
    identity, quantized = rows
    assert identity["downlink_ratio"] == 1.0
    assert quantized["downlink_ratio"] == round(
        identity["downlink_bits_per_client_round"] / quantized["downlink_bits_per_client_round"], 2
    )
    assert quantized["downlink_ratio"] > 3
    assert int(table[1]["uplink_bits_per_client_round"]) == quantized["uplink_bits_per_client_round"]
    markdown = (tmp_path / "results.md").read_text()
    assert sizing.format_size(quantized["downlink_bits_per_client_round"]) in markdown
    assert (tmp_path / "pareto.png").stat().st_size > 0 and (tmp_path / "accuracy_per_round.png").stat().st_size > 0
    assert set(histories) == {"identity", "uniform:8 both"}


def test_cli_list_and_bad_only(capsys):
    assert cli.main(["reproduce", "sweep", "--list"]) == 0
    assert "'kashin:8 both'" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "sweep", "--only", "nope"])
    assert "unknown configurations ['nope']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "sweep", "--client-lr", "-1"])
    assert "'-1' is not a positive number" in capsys.readouterr().err
