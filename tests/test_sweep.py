"""fedkit.experiments.sweep: configurations, a tiny sweep's table and figures, and the CLI around it."""

import csv

import numpy as np
import pytest

from fedkit import cli
from fedkit.compression import sizing
from fedkit.experiments import sweep


def test_grid_names_are_unique_and_selectable():
    grid = sweep.default_grid()
    names = [c.name for c in grid]
    assert len(names) == len(set(names)) and "identity" in names
    assert [c.name for c in sweep.select(grid, ["uniform:8 both", "identity"])] == ["uniform:8 both", "identity"]
    with pytest.raises(ValueError, match=r"unknown configurations \['uniform:3 both'\]"):
        sweep.select(grid, ["uniform:3 both"])


def test_ratios_against_identity():
    rows = [
        {
            "broadcast": "identity",
            "aggregate": "identity",
            "downlink_bits_per_client_round": 3200,
            "uplink_bits_per_client_round": 3300,
        },
        {
            "broadcast": "uniform:8",
            "aggregate": "identity",
            "downlink_bits_per_client_round": 1000,
            "uplink_bits_per_client_round": 3300,
        },
    ]
    sweep.add_ratios(rows)
    assert [(r["downlink_ratio"], r["uplink_ratio"]) for r in rows] == [(1.0, 1.0), (3.2, 1.0)]


def test_interval_over_seeds():
    assert sweep.interval95([0.9]) is None
    # t(0.975, 2 degrees of freedom) = 4.3027 (tables); sample std 0.02 over 3 seeds.
    assert sweep.interval95([0.90, 0.92, 0.94]) == pytest.approx(4.3027 * 0.02 / 3**0.5, rel=1e-4)
    assert sweep.format_accuracy(0.9234, None, 1) == "0.923 (1 seed)"
    assert sweep.format_accuracy(0.92, 0.0497, 3) == "0.920 ± 0.050 (3 seeds)"
    assert sweep.DEFAULT_SEEDS == sweep.SweepSettings().seeds and len(sweep.DEFAULT_SEEDS) >= 3


def row(name, down, up, accuracy, rounds=10):
    return {
        "configuration": name,
        "downlink_bits_per_client_round": down,
        "uplink_bits_per_client_round": up,
        "test_accuracy": accuracy,
        "rounds": rounds,
    }


def test_pareto_front():
    rows = [
        row("identity", 100, 100, 0.93),
        row("8 both", 30, 30, 0.92),
        row("8 down", 30, 100, 0.92),
        row("2 both", 8, 8, 0.84),
        row("worse, dearer", 50, 50, 0.80),
        row("as 8 both", 30, 30, 0.92),
    ]
    # "8 down" costs more than "8 both" for the same accuracy; ties with equal cost and accuracy both stay.
    assert sweep.pareto_front(rows) == [True, True, False, True, False, True]
    assert sweep.pareto_front([row("only", 1, 1, 0.5)]) == [True]


@pytest.fixture
def twelve_writers_cache(tmp_path):
    """A cache of the FEMNIST sample's first 12 writers: each evaluation then covers 12 test clients, not 104."""
    from fedkit import data

    arrays = data.read_sample()
    keep = np.isin(arrays["client_id"], np.unique(arrays["client_id"])[:12])
    np.savez(tmp_path / "twelve.npz", **{k: v[keep] for k, v in arrays.items()})
    data.write_sample_sqlite(tmp_path / "twelve.npz", tmp_path / data.CACHE_FILE)
    return tmp_path


def test_tiny_sweep_writes_table_and_figures(twelve_writers_cache, tmp_path):
    configs = sweep.select(sweep.default_grid(), ["identity", "uniform:8 both"])
    settings = sweep.SweepSettings(rounds=1, clients_per_round=2, epochs=1, seeds=(0, 1))
    out = tmp_path / "out"
    rows, histories = sweep.run_sweep(configs, settings, out, cache_dir=twelve_writers_cache, verbose=False)
    with open(out / "results.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["configuration"] for r in table] == ["identity", "uniform:8 both"]
    identity, quantized = rows
    assert identity["downlink_ratio"] == 1.0
    assert quantized["downlink_ratio"] == round(
        identity["downlink_bits_per_client_round"] / quantized["downlink_bits_per_client_round"], 2
    )
    assert quantized["downlink_ratio"] > 3
    assert int(table[1]["uplink_bits_per_client_round"]) == quantized["uplink_bits_per_client_round"]
    markdown = (out / "results.md").read_text()
    assert sizing.format_size(quantized["downlink_bits_per_client_round"]) in markdown
    for r in rows:
        per_seed = [float(a) for a in r["test_accuracy_per_seed"].split()]
        assert len(per_seed) == 2 and r["test_accuracy"] == pytest.approx(np.mean(per_seed), abs=1e-4)
        assert sweep.format_accuracy(r["test_accuracy"], r["test_accuracy_ci95"], 2) in markdown
    assert [r["pareto"] for r in rows] == sweep.pareto_front(rows)
    assert "(2 seeds)" in markdown and "± 0.000 |" not in markdown
    assert (out / "pareto.png").stat().st_size > 0 and (out / "accuracy_per_round.png").stat().st_size > 0
    assert set(histories) == {"identity", "uniform:8 both"}


def test_cli_list_and_bad_only(capsys):
    assert cli.main(["reproduce", "sweep", "--list"]) == 0
    assert "'kashin:8 both'" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "sweep", "--only", "nope"])
    assert "unknown configurations ['nope']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["reproduce", "sweep", "--client-lr", "-1"])
    assert "--client-lr: '-1' is not a" in capsys.readouterr().err


@pytest.mark.parametrize("problem", ["out is a file", "out under a file", "cache is a file", "too many clients"])
def test_bad_settings_are_refused_before_any_work(sample_cache, tmp_path, problem):
    a_file = tmp_path / "results.csv"
    a_file.write_text("not a folder")
    out, cache, clients = tmp_path / "out", sample_cache, 2
    expected = {
        "out is a file": "output folder .* is a file, not a folder: give a writable folder with --out",
        "out under a file": "output folder .* cannot be written .*results.csv is a file.*--out",
        "cache is a file": "cache folder .* is a file, not a folder: give a writable folder with --cache-dir",
        "too many clients": r"clients_per_round=1000 but the training data has only \d+ ",
    }[problem]
    if problem == "out is a file":
        out = a_file
    elif problem == "out under a file":
        out = a_file / "sweep"
    elif problem == "cache is a file":
        cache = a_file
    else:
        clients = 1000
    settings = sweep.SweepSettings(rounds=1, clients_per_round=clients, epochs=1, seeds=(0,))
    configs = sweep.select(sweep.default_grid(), ["identity"])
    with pytest.raises(ValueError, match=expected) as e:
        sweep.run_sweep(configs, settings, out, cache_dir=cache, verbose=False)
    assert "\n" not in str(e.value)
    assert not (tmp_path / "out").exists() and a_file.read_text() == "not a folder"  # nothing half-written


def test_dropout_grid_ratios_and_compute_column():
    grid = sweep.dropout_grid([1.0, 0.5])
    assert [c.name for c in grid] == [
        "dropout 1",
        "dropout 1, uniform:4 down, uniform:2 up",
        "dropout 1, kashin:4 down, uniform:2 up",
        "dropout 0.5",
        "dropout 0.5, uniform:4 down, uniform:2 up",
        "dropout 0.5, kashin:4 down, uniform:2 up",
    ]
    assert [c.dropout for c in grid] == [1.0] * 3 + [0.5] * 3 and grid[4].broadcast == "uniform:4"
    rows = [
        {
            "configuration": c.name,
            "broadcast": c.broadcast,
            "aggregate": c.aggregate,
            "dropout": c.dropout,
            "downlink_bits_per_client_round": bits,
            "uplink_bits_per_client_round": bits,
            "test_accuracy": 0.9,
            "test_accuracy_ci95": 0.01,
            "test_loss": 0.3,
            "rounds": 2,
            "seeds": "0 1",
            "wall_seconds": 1.0,
        }
        for c, bits in zip(grid, [4000, 500, 800, 1000, 125, 250], strict=True)
    ]
    sweep.add_ratios(rows)
    assert [r["downlink_ratio"] for r in rows] == [1.0, 8.0, 5.0, 4.0, 32.0, 16.0]  # against "dropout 1"
    # (784*25*32 + 196*25*32*64 + 49*64*512 + 512*10) / (784*25*16 + 196*25*16*32 + 49*32*256 + 256*10)
    assert rows[3]["client_compute_ratio"] == round(12273152 / 3226368, 2) == 3.8
    assert rows[0]["client_compute_ratio"] == 1.0
    markdown = sweep.markdown_table(rows)
    assert "client compute ratio" in markdown.splitlines()[0] and "| 3.80x |" in markdown
    plain = [{k: v for k, v in r.items() if k not in ("dropout", "client_compute_ratio")} for r in rows]
    assert "client compute ratio" not in sweep.markdown_table(plain)
