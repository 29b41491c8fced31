"""Layer 1, what every other part may use: where things live, results files, the process environment.

Public names:
- from `paths`: `project_root`, `data_dir`, `output_path` (under `outputs/`), `shipped_result`;
- from `results`: `ResultsError`; the results files themselves are read and written as `results.read(name)`,
  `results.write(...)`, `results.summary(values)`, `results.differs(a, b)`, `results.interval95(values)`;
- from `env`: `ENV_DEFAULTS` (with `PKG_RESOURCES_WARNING` and `apply_defaults`, applied by `import fedkit`).

Submodules: `paths`, `results`, `env`, and `lazy` (the lazy faces of fedkit's sub-packages). None imports
TensorFlow.
"""

from fedkit.common import lazy

__getattr__, __dir__ = lazy.exports(
    __name__,
    {
        "paths": ["project_root", "data_dir", "output_path", "shipped_result"],
        "results": ["ResultsError"],
        "env": ["ENV_DEFAULTS"],
    },
)
