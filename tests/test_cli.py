"""`python -m fedkit`: the same figures as fedkit.compression.sizing, as a table or JSON; every error one line."""

import json
import signal
import subprocess
import sys
import time

import pytest
from conftest import ROOT, run_python
from test_runtime import terminal_signals

from fedkit import algorithms, cli, models
from fedkit.compression import specs
from fedkit.experiments import reproduce, sweep


def run_cli(*args, timeout=900):
    return subprocess.run(
        [sys.executable, "-m", "fedkit", *args], capture_output=True, text=True, cwd=ROOT, timeout=timeout
    )


def assert_quiet(stderr: str) -> None:
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr


def assert_one_line_error(result: subprocess.CompletedProcess, status: int, *words: str) -> None:
    assert result.returncode == status, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("python -m fedkit: error: "), result.stderr
    for word in words:
        assert word in lines[0]


def test_cost_json_and_table(capsys):
    result = run_cli("cost", "--model", "cnn", "--broadcast", "uniform:8", "--aggregate", "uniform:8", "--json")
    assert result.returncode == 0, result.stderr
    assert_quiet(result.stderr)
    report = json.loads(result.stdout)
    for key in (
        "broadcast_bits_per_client",
        "aggregate_bits_per_client",
        "broadcast_bits_per_round",
        "aggregate_bits_per_round",
    ):
        assert isinstance(report[key], int)
    assert report["broadcast_bits_per_round"] == 10 * report["broadcast_bits_per_client"]
    assert report["broadcast_bits_per_client"] < models.create_original_fedavg_cnn_model().count_params() * 32 / 3

    # The table in this process (the command's own exit was checked above): per round, as published.
    assert cli.main(["cost", "--clients", "10"]) == 0
    assert capsys.readouterr().out.count("507.62Mibit") == 2  # broadcast and aggregate


def test_table_columns_never_run_together():
    huge = 2**62
    report = {
        "model": "cnn",
        "broadcast": "identity",
        "aggregate": "identity",
        "threshold": 0,
        "clients": 1,
        "broadcast_bits_per_client": huge,
        "aggregate_bits_per_client": huge,
        "broadcast_bits_per_round": huge * cli.MAX_CLIENTS,
        "aggregate_bits_per_round": huge * cli.MAX_CLIENTS,
        "not_static": [],
    }
    for line in cli._table(report).splitlines()[2:]:
        assert len(line.split()) == 3, line  # name, per client, per round: each its own column


@pytest.mark.parametrize(
    "args, message",
    [
        (["cost", "--broadcast", "zip:8"], "unknown encoder 'zip'"),
        (["cost", "--aggregate", "uniform:99"], "'99'"),
        (["cost", "--broadcast", "uniform:²"], "'²'"),
        (["cost", "--threshold", "٣"], "'٣'"),
        (["cost", "--clients", "0"], "'0' is not a whole number from 1"),
        (["cost", "--clients", "1e20"], "'1e20' is not a whole number"),
        (["cost", "--clients", "²"], "'²' is not a whole number"),
        (["cost", "--clients", "100000000000000000000"], "fedkit's limit"),
        (["reproduce", "sweep", "--client-lr", "inf"], "'inf' is not a finite number"),
        (["reproduce", "sweep", "--server-lr", "nan"], "'nan' is not a finite number"),
        (["reproduce", "sweep", "--seeds", "-1"], "'-1'"),
        (["reproduce", "dme", "--trials", "1"], "'1' is not a whole number from 2"),
        (["reproduce", "dmee"], "invalid choice"),
        (["cost", "--model", "vgg"], "invalid choice"),
        (["train"], "invalid choice"),
    ],
)
def test_bad_flags_name_the_value(args, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(args)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_flags_are_parsed_once_into_specs():
    args = cli.parser().parse_args(
        ["cost", "--broadcast", " uniform:8", "--aggregate", "tff-compression", "--threshold", " 12 "]
    )
    assert args.broadcast == specs.EncoderSpec("uniform", 8) and args.threshold == 12
    assert args.aggregate == specs.TffAggregatorSpec("tff-compression")
    defaults = cli.parser().parse_args(["cost"])
    assert defaults.broadcast == defaults.aggregate == specs.EncoderSpec("identity")
    assert cli.parser().parse_args(["reproduce", "sweep", "--client-lr", "0.5"]).client_lr == 0.5


def test_cli_names_match_the_library():
    for name in models.MODELS:  # every name the CLI offers builds a model
        assert models.create_keras_model(name).count_params() > 0
    assert set(specs.TFF_AGGREGATORS) == set(algorithms.TFF_AGGREGATORS)


def test_arguments_are_checked_before_tensorflow_is_imported():
    code = (
        "import sys\n"
        "from fedkit import cli\n"
        "for args in (['cost', '--clients', '1e20'], ['cost', '--broadcast', 'uniform:²'], ['--help']):\n"
        "    try:\n"
        "        cli.main(args)\n"
        "    except SystemExit as e:\n"
        "        assert e.code in (0, 2), e.code\n"
        "print(sorted(m for m in sys.modules if m.startswith(('tensorflow', 'grpc', 'numpy'))))\n"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"

    imports = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "fedkit", "--help"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert imports.returncode == 0 and "reproduce" in imports.stdout
    assert "fedkit.cli" in imports.stderr and "tensorflow" not in imports.stderr


def test_module_entry_point_help():
    result = run_python("import sys; sys.argv=['fedkit', '--help']; import runpy; runpy.run_module('fedkit')")
    assert result.returncode == 0 and "cost" in result.stdout


@pytest.fixture
def a_file(tmp_path):
    path = tmp_path / "a_file"
    path.write_text("not a folder")
    return path


@pytest.mark.parametrize(
    "flag, where", [("--out", "file"), ("--out", "unwritable"), ("--cache-dir", "file"), ("--cache-dir", "unwritable")]
)
def test_unusable_folders_are_one_line_errors_before_anything_is_loaded(flag, where, a_file, tmp_path):
    # /proc refuses new entries even to root, for whom permission bits would not.
    folder = a_file / "sub" if where == "file" else "/proc/fedkit-test/sub"
    other = "--cache-dir" if flag == "--out" else "--out"
    result = run_cli("reproduce", "sweep", flag, str(folder), other, str(tmp_path / "other"), timeout=60)
    assert_one_line_error(result, 2, flag, "folder")
    assert not (tmp_path / "other").exists()


def test_too_many_clients_is_one_line_error_and_writes_nothing(sample_cache, tmp_path):
    out = tmp_path / "out"
    result = run_cli(
        "reproduce",
        "sweep",
        "--clients",
        "500",
        "--only",
        "identity",
        "--cache-dir",
        str(sample_cache),
        "--out",
        str(out),
    )
    assert_one_line_error(result, 2, "--clients 500", "at most")
    assert not out.exists()


def test_ctrl_c_is_one_line_and_exit_130():
    with terminal_signals():  # whatever the disposition this runner inherited
        proc = subprocess.Popen(
            [sys.executable, "-m", "fedkit", "cost"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
    time.sleep(3)  # inside the command (TensorFlow's import alone takes longer)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    result = subprocess.CompletedProcess(proc.args, proc.returncode, "", stderr)
    assert_one_line_error(result, 130, "interrupted")


def test_reproduce_sweep_runs_three_seeds_by_default():
    seeds = cli.seeds_for(cli.parser().parse_args(["reproduce", "sweep"]))
    assert len(seeds) >= 3 and len(set(seeds)) == len(seeds)  # enough for an interval
    assert seeds == sweep.SweepSettings().seeds


def test_every_experiment_runs_at_least_three_seeds_by_default():
    for name in reproduce.names():
        seeds = cli.seeds_for(cli.parser().parse_args(["reproduce", name]))
        assert len(seeds) >= 3 and len(set(seeds)) == len(seeds), name
    assert cli.seeds_for(cli.parser().parse_args(["reproduce", "non-iid", "--seeds", "4", "5"])) == (4, 5)
