"""Layer 1, what every other part may use: where things live, results files, the process environment.

Public names:
- from `paths`: `project_root`, `data_dir`, `output_path` (under `outputs/`), `shipped_result`;
- from `results`: `ResultsError`; the results files themselves are read and written as `results.read(name)`,
  `results.write(...)`, `results.summary(values)`, `results.differs(a, b)`, `results.interval95(values)`;
- from `env`: `ENV_DEFAULTS` (with `PKG_RESOURCES_WARNING` and `apply_defaults`, applied by `import fedkit`).

Submodules: `paths`, `results`, `env`, `checks` (user values checked in one place: `checks.whole_number`,
`checks.positive_number`, `checks.learning_rate`, `checks.folder_problem`), and `lazy` (the lazy faces of fedkit's
sub-packages). None imports TensorFlow.
"""

from typing import TYPE_CHECKING

from fedkit.common import lazy

if TYPE_CHECKING:  # what type checkers see: the names listed below; at run time each is imported on first use
    from fedkit.common.env import ENV_DEFAULTS as ENV_DEFAULTS
    from fedkit.common.paths import (
        data_dir as data_dir,
        output_path as output_path,
        project_root as project_root,
        shipped_result as shipped_result,
    )
    from fedkit.common.results import ResultsError as ResultsError
else:
    __getattr__, __dir__ = lazy.exports(__name__)
