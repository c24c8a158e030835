"""The README's code and the quickstart example run as written, so they never go stale."""

import pathlib
import re
import runpy

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parents[2]


def python_blocks(markdown):
    return re.findall(r"```python\n(.*?)```", markdown, flags=re.S)


def test_readme_quickstart_runs_and_finds_four_components():
    blocks = python_blocks((ROOT / "README.md").read_text())
    assert blocks, "README has no python block"
    namespace = {}
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)
    assert namespace["best"] == 4
    assert np.allclose(namespace["probs"].sum(axis=1), 1.0)
    assert namespace["X_new"].shape == (400, 2)


def test_quickstart_example_runs(capsys):
    runpy.run_path(str(ROOT / "examples" / "python" / "quickstart.py"), run_name="__main__")
    out = capsys.readouterr().out
    assert "BIC picks 4 components" in out


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    bash_blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    test_command = 'pip install ".[test]" && pytest'
    assert any(test_command in block for block in bash_blocks)
    assert test_command in (ROOT / ".ci" / "run").read_text()
