"""The files shipped in ``pipeline/run/data/`` (``site.toml``, ``sweep-body.sh``) are found
through :mod:`importlib.resources`, in a checkout and in an installed wheel.

The slow test builds a wheel of the project, installs it (not editable, no dependencies)
into a scratch virtual environment that borrows this interpreter's packages
(``--system-site-packages``: nothing is downloaded to run it) and runs ``nqs-ent slurm``
there from a folder outside the checkout, so that a data file missing from the wheel
shows up as a failure here rather than on a cluster.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib import resources
from pathlib import Path

import pytest

from pipeline.run.site import load_site_config, package_file, site_config_text
from pipeline.run.slurm import render_sweep_script

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "pipeline" / "run" / "data"
PACKAGED = ("site.toml", "sweep-body.sh")

# Top-level entries of the checkout that are no part of a build: copying the rest keeps
# the build's own build/ and *.egg-info out of the checkout (and stale files out of the
# wheel).
_NOT_BUILT = {
    ".git",
    ".venv",
    "build",
    "dist",
    "data",
    ".benchmarks",
    ".hypothesis",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    "dask-worker-space",
}


@pytest.mark.parametrize("name", PACKAGED)
def test_package_file_reads_the_packaged_data(name):
    text = package_file(name)
    assert text.strip(), f"pipeline/run/data/{name} is empty"
    assert resources.files("pipeline.run").joinpath("data", name).is_file()


def test_site_config_text_is_the_packaged_toml():
    assert site_config_text() == package_file("site.toml")
    assert isinstance(tomllib.loads(site_config_text()), dict)


def _run(args, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, **kwargs)


def _report(result: subprocess.CompletedProcess[str]) -> str:
    return (
        f"{' '.join(map(str, result.args))} exited with {result.returncode}\n"
        f"--- stdout\n{result.stdout[-4000:]}\n--- stderr\n{result.stderr[-4000:]}"
    )


def _copy_source(destination: Path) -> Path:
    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n == "__pycache__" or n.endswith(".egg-info")}
        if Path(folder) == ROOT:
            skipped |= _NOT_BUILT & set(names)
        return skipped

    shutil.copytree(ROOT, destination, ignore=ignore, symlinks=True)
    return destination


def _build_wheel(source: Path, out: Path) -> Path:
    wheel = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(out), str(source)]
    # Without isolation first (nothing to fetch); an environment whose setuptools is older
    # than pyproject.toml's build requirement fails that way, so then build isolated.
    built = _run([*wheel[:5], "--no-build-isolation", *wheel[5:]], timeout=600)
    if built.returncode != 0:
        isolated = _run(wheel, timeout=600)
        assert isolated.returncode == 0, (
            f"no wheel built.\nWithout build isolation: {_report(built)}\n"
            f"With build isolation: {_report(isolated)}"
        )
    wheels = sorted(out.glob("nqs_ent-*.whl"))
    assert len(wheels) == 1, f"expected one nqs_ent wheel in {out}, found {wheels}"
    return wheels[0]


def _clean_env() -> dict[str, str]:
    """This environment without anything that would put the checkout on ``sys.path`` or
    replace the packaged site config."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "NQS_ENT_SITE_CONFIG"}
    }
    env["PYTHONNOUSERSITE"] = "1"
    env.pop("VIRTUAL_ENV", None)
    return env


@pytest.mark.slow
def test_installed_wheel_finds_its_package_data(tmp_path, monkeypatch):
    wheel = _build_wheel(_copy_source(tmp_path / "source"), tmp_path / "wheels")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for name in PACKAGED:
        assert f"pipeline/run/data/{name}" in names, f"{name} is missing from {wheel.name}"

    venv = tmp_path / "venv"
    made = _run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        timeout=120,
    )
    assert made.returncode == 0, _report(made)
    python = venv / "bin" / "python"
    # This pip installs into the venv (--python, pip >= 22.3), so the venv needs no pip of
    # its own; --ignore-installed: the editable nqs-ent it sees through the system
    # site-packages is neither a reason to skip the install nor one to uninstall anything.
    installed = _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-index",
            "--ignore-installed",
            str(wheel),
        ],
        timeout=300,
    )
    assert installed.returncode == 0, _report(installed)

    work = tmp_path / "work"  # the subprocesses' cwd: outside the checkout, no pipeline/ in it
    work.mkdir()
    env = _clean_env()

    def in_venv(*args: str) -> subprocess.CompletedProcess[str]:
        result = _run([str(python), *args], cwd=work, env=env, timeout=300)
        assert result.returncode == 0, _report(result)
        return result

    # (a) the wheel's copy is imported, not the checkout's
    where = in_venv(
        "-c",
        "import sys, pipeline, pipeline.run.site as site; from importlib import resources;"
        "print(sys.prefix); print(pipeline.__file__); print(site.__file__);"
        "print(resources.files('pipeline.run').joinpath('data', 'site.toml'))",
    )
    prefix, *files = (Path(line).resolve() for line in where.stdout.splitlines())
    assert prefix == venv.resolve(), where.stdout
    for path in files:
        assert path.is_relative_to(prefix), f"{path} is not inside the venv {prefix}"
        assert not path.is_relative_to(ROOT), f"{path} comes from the checkout {ROOT}"

    # (b) the sweep script rendered there is the one rendered here from the checkout
    monkeypatch.delenv("NQS_ENT_SITE_CONFIG", raising=False)
    script = in_venv("-m", "pipeline.cli", "slurm", "render").stdout
    assert script.startswith("#!/usr/bin/env bash\n")
    assert any(line.startswith("#SBATCH ") for line in script.splitlines())
    assert (DATA / "sweep-body.sh").read_text(encoding="utf-8").rstrip("\n") in script
    assert script == render_sweep_script(load_site_config())

    # (c) the packaged site config
    site = in_venv("-m", "pipeline.cli", "slurm", "site").stdout
    assert site == (DATA / "site.toml").read_text(encoding="utf-8")

    # (d) the command line starts, also through the installed console script
    assert "slurm" in in_venv("-m", "pipeline.cli", "--help").stdout
    console = _run([str(venv / "bin" / "nqs-ent"), "--help"], cwd=work, env=env, timeout=300)
    assert console.returncode == 0, _report(console)
