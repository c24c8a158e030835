"""`python -m gaussmix demo --quick` writes every figure of the chapter and its summary."""

import os
import re
import subprocess
import sys

import pytest

pytest.importorskip("matplotlib")

from gaussmix.__main__ import main  # noqa: E402
from gaussmix.demo import FIGURES, QUICK_DIGIT_COMPONENTS  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    completed = subprocess.run(
        [sys.executable, "-m", "gaussmix", "demo", "--out", str(out), "--quick"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "MPLBACKEND": "Agg"},
    )
    assert completed.returncode == 0, completed.stderr
    return out, completed.stdout


def test_every_figure_is_written_as_a_png(demo_run):
    out, stdout = demo_run
    assert len(FIGURES) == 16
    for name in FIGURES:
        path = out / f"{name}.png"
        assert path.read_bytes()[:8] == PNG_MAGIC, name
        assert path.stat().st_size > 5000, name  # an empty 480x360 canvas is ~2 kB
        assert str(path) in stdout
    assert sorted(p.stem for p in out.glob("*.png")) == sorted(FIGURES)
    assert f"16 figures in {out.resolve()}" in stdout


def test_summary_has_the_chapters_printed_results(demo_run):
    out, stdout = demo_run
    summary = (out / "summary.txt").read_text()
    assert str(out / "summary.txt") in stdout
    assert "probs[:5].round(3)" in summary
    assert "converged_: blobs True, stretched blobs True" in summary
    assert "digits.data.shape = (1797, 64)" in summary
    assert "data.shape = (1797, 41)" in summary
    assert "data_new.shape = (100, 41); digits_new.shape = (100, 64)" in summary
    aic, bic = map(int, re.search(r"AIC picks (\d+) components, BIC picks (\d+)", summary).groups())
    assert bic < aic
    chosen = int(re.search(r"AIC over n_components \d+\.\.\d+ picks (\d+)", summary).group(1))
    assert chosen in QUICK_DIGIT_COMPONENTS
    assert re.search(r"^total: \d+\.\d s$", summary, re.MULTILINE)


def test_cli_requires_a_command(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "demo" in capsys.readouterr().err
