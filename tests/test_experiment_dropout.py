"""fedkit.experiments.reproduce.dropout: its grid (the run itself is `python -m fedkit reproduce dropout`)."""

from fedkit.experiments import reproduce
from fedkit.experiments.reproduce import dropout as ex


def test_found_by_the_cli_with_at_least_three_seeds():
    assert "dropout" in reproduce.names()
    assert reproduce.load("dropout") is ex
    assert len(ex.SEEDS) >= 3 and ex.HELP


def test_grid_starts_with_the_baseline_and_has_the_papers_pairing():
    configs = ex.configurations()
    assert configs[0] == {"name": "keep 1", "keep": 1.0, "broadcast": None, "aggregate": None}
    assert {
        "name": "keep 0.75, kashin:4 down, uniform:2 up",
        "keep": 0.75,
        "broadcast": "kashin:4",
        "aggregate": "uniform:2",
    } in configs
    assert len({c["name"] for c in configs}) == len(configs)
    assert ex.ROUNDS >= 25
