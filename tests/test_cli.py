"""`python -m fedkit cost`: the same figures as fedkit.sizing, as a table or JSON."""

import json
import sys

import pytest
from conftest import ROOT, run_python

from fedkit import cli, models


def run_cli(*args):
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "fedkit", *args], capture_output=True, text=True, cwd=ROOT, timeout=300
    )


def test_cost_json_and_table():
    result = run_cli("cost", "--model", "cnn", "--broadcast", "uniform:8", "--aggregate", "uniform:8", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    for key in ("broadcast_bits_per_client", "aggregate_bits_per_client", "broadcast_bits_per_round",
                "aggregate_bits_per_round"):  # fmt: skip
        assert isinstance(report[key], int)
    assert report["broadcast_bits_per_round"] == 10 * report["broadcast_bits_per_client"]
    assert report["broadcast_bits_per_client"] < models.create_original_fedavg_cnn_model().count_params() * 32 / 3

    table = run_cli("cost", "--clients", "10")
    assert table.returncode == 0, table.stderr
    assert table.stdout.count("507.62Mibit") == 2  # broadcast and aggregate per round, as published


@pytest.mark.parametrize(
    "args, message",
    [(["cost", "--broadcast", "zip:8"], "unknown encoder 'zip'"), (["cost", "--aggregate", "uniform:99"], "'99'"),
     (["cost", "--clients", "0"], "'0' is not a whole number >= 1"), (["cost", "--model", "vgg"], "invalid choice"),
     (["train"], "invalid choice")],
)  # fmt: skip
def test_bad_flags_name_the_value(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_module_entry_point_help():
    result = run_python("import sys; sys.argv=['fedkit', '--help']; import runpy; runpy.run_module('fedkit')")
    assert result.returncode == 0 and "cost" in result.stdout
