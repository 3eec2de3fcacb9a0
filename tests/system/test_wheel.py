"""A non-editable install in a fresh venv finds the default templates and the example config."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_wheel_ships_templates_and_example_config(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".venv", ".git", "__pycache__", ".*_cache", ".cache", ".hypothesis", "build", "dist"
        ),
    )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            str(source),
        ],
        check=True,
        capture_output=True,
    )
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    wheel = next(wheels.glob("mailflow-*.whl"))
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    probe = (
        "from mailflow.resources import default_templates_dir, example_config_text\n"
        "d = default_templates_dir()\n"
        "assert 'site-packages' in str(d), d\n"
        "names = sorted(p.name for p in d.rglob('*') if p.is_file())\n"
        "assert any(n.startswith('thank_you') for n in names), names\n"
        "assert '[playbook.thank_you]' in example_config_text()\n"
        "print(len(names))\n"
    )
    done = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) >= 7
