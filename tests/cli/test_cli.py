"""Bad input gets a one-line error, exit status 2, and leaves an existing store untouched."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
from helpers import GOOD_SPEC, file_digests, one_line_error

from pipeline.cli import main

BODY = """
[[experiment]]
name = "e"
architecture = "{arch}"
n = {n}
samples = {samples}
measures = {measures}
[experiment.hyper]
{hyper}
[experiment.subsystem]
kind = "{kind}"
{subsystem}
"""


def spec(
    arch="sn",
    n="[6]",
    samples="2",
    measures='["vn"]',
    hyper="",
    kind="window",
    subsystem='m = "1..n//2"\nwindows = 2',
    head='name = "bad"\nseed = 1',
) -> str:
    return (
        head
        + "\n"
        + BODY.format(
            arch=arch,
            n=n,
            samples=samples,
            measures=measures,
            hyper=hyper,
            kind=kind,
            subsystem=subsystem,
        )
    )


# (label, spec text, a fragment the message must contain)
BAD_SPECS = [
    ("toml syntax", 'name = "x"\nseed = = 1\n', "line 2"),
    (
        "missing seed",
        'name = "x"\n'
        + BODY.format(
            arch="sn",
            n="[6]",
            samples=2,
            measures='["vn"]',
            hyper="",
            kind="first",
            subsystem="m = 1",
        ),
        "seed",
    ),
    ("unknown top-level key", spec(head='name = "x"\nseed = 1\nseeds = 2'), "seeds"),
    ("negative seed", spec(head='name = "x"\nseed = -1'), "seed"),
    ("bad backend", spec(head='name = "x"\nseed = 1\nbackend = "tpu"'), "backend"),
    ("bad dtype", spec(head='name = "x"\nseed = 1\ndtype = "float16"'), "dtype"),
    ("unknown architecture", spec(arch="resnet"), "resnet"),
    ("unknown activation", spec(hyper='activation = "swish"'), "activation"),
    ("unknown hyperparameter", spec(hyper="widht = 3"), "widht"),
    ("hyperparameter wrong type", spec(hyper='weight_std = "big"'), "weight_std"),
    ("negative width", spec(arch="mlp", hyper="width = -2"), "width"),
    ("bool for an int", spec(samples="true"), "samples"),
    ("zero samples", spec(samples="0"), "samples"),
    ("n too small", spec(n="[1]"), "n"),
    ("n not increasing", spec(n="[8, 6]"), "n"),
    ("m >= n", spec(subsystem="m = [6]\nwindows = 2"), "subsystem.m"),
    ("empty range", spec(subsystem='m = "4..2"\nwindows = 2'), "subsystem.m"),
    ("range uses /", spec(subsystem='m = "1..n/2"\nwindows = 2'), "subsystem.m"),
    ("windows for first", spec(kind="first", subsystem="m = 1\nwindows = 3"), "windows"),
    ("unknown kind", spec(kind="blocks"), "kind"),
    ("explicit site out of range", spec(kind="explicit", subsystem="sites = [[0, 9]]"), "sites"),
    ("bad measure", spec(measures='["renyi1"]'), "measures"),
    ("duplicate measure", spec(measures='["vn", "vn"]'), "measures"),
    ("odd n for dicke", spec(arch="dicke", n="[7]"), "n"),
    ("transformer patch longer than n", spec(arch="transformer", n="[4]"), "n"),
    ("samples_per_task > samples", spec(samples="2\nsamples_per_task = 5"), "samples_per_task"),
    ("empty sweep axis", spec(hyper="activation = []"), "activation"),
    ("more memory than a worker has", spec(n="[34]", subsystem="m = [1]\nwindows = 1"), "memory"),
]


def test_at_least_twenty_cases():
    assert len(BAD_SPECS) >= 20


@pytest.mark.parametrize(
    ("label", "text", "fragment"), BAD_SPECS, ids=[case[0] for case in BAD_SPECS]
)
def test_bad_spec_is_refused_and_store_untouched(
    label, text, fragment, tmp_path, existing_store, capsys
):
    bad = tmp_path / "bad.toml"
    bad.write_text(text)
    before = file_digests(existing_store)
    capsys.readouterr()
    assert main(["run", str(bad), "--store", str(existing_store), "--no-progress"]) == 2
    assert fragment in one_line_error(capsys)
    assert file_digests(existing_store) == before
    assert main(["validate", str(bad)]) == 2
    assert fragment in one_line_error(capsys)


def test_different_spec_is_refused(tmp_path, existing_store, capsys):
    other = tmp_path / "other.toml"
    other.write_text(GOOD_SPEC.replace("seed = 3", "seed = 4"))
    before = file_digests(existing_store)
    capsys.readouterr()
    assert main(["run", str(other), "--store", str(existing_store), "--no-progress"]) == 2
    assert "written by a different spec" in one_line_error(capsys)
    assert file_digests(existing_store) == before


def test_unknown_only_experiment_is_refused(good, existing_store, capsys):
    before = file_digests(existing_store)
    capsys.readouterr()
    for only in ("sn,nosuch", ","):
        code = main(["run", str(good), "--store", str(existing_store), "--only", only])
        assert code == 2
        error = one_line_error(capsys)
        assert "--only" in error and "its experiments: sn" in error
    assert "'nosuch'" in error or "given" in error
    assert file_digests(existing_store) == before


def test_bad_only_term_is_refused(good, existing_store, capsys):
    before = file_digests(existing_store)
    capsys.readouterr()
    for only, says in (
        ("sn:activation=tanh", "KEY one of n"),
        ("sn:n", "is not KEY=VALUE"),
        ("sn:n=7", "n = 7 is not swept by 'sn' (its values: 6, 8)"),
    ):
        code = main(["run", str(good), "--store", str(existing_store), "--only", only])
        assert code == 2
        assert says in one_line_error(capsys)
    assert file_digests(existing_store) == before


def test_foreign_directory_is_refused(good, tmp_path, capsys):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert main(["run", str(good), "--store", str(foreign), "--no-progress"]) == 2
    assert "not an nqs-ent store" in one_line_error(capsys)
    assert file_digests(foreign) == {"notes.txt": hashlib.sha256(b"mine").hexdigest()}


def test_missing_gpu_is_an_error_not_a_fallback(good, tmp_path, capsys):
    from pipeline.numerics.xp import gpu_available

    if gpu_available():
        pytest.skip("a GPU is present")
    assert main(["run", str(good), "--store", str(tmp_path / "s.zarr"), "--backend", "cupy"]) == 2
    assert "cupy" in one_line_error(capsys)
    assert not (tmp_path / "s.zarr").exists()


def test_memory_limit_option_is_checked(good, capsys):
    assert main(["validate", str(good), "--memory-limit", "10MiB"]) == 2
    assert "memory limit" in one_line_error(capsys)
    assert main(["validate", str(good), "--memory-limit", "lots"]) == 2
    assert "not a size" in one_line_error(capsys)


def test_validate_reports_tasks_and_memory(good, capsys):
    assert main(["validate", str(good)]) == 0
    out = capsys.readouterr().out
    assert "tasks: 2" in out and "largest task: about" in out and out.strip().endswith("ok")


def test_status(existing_store, capsys):
    assert main(["status", str(existing_store)]) == 0
    out = capsys.readouterr().out
    assert "sn" in out and "2/2" in out


def test_status_into_a_closed_pipe_is_quiet(existing_store):
    read_end, write_end = os.pipe()
    os.close(read_end)  # `nqs-ent status STORE | head` after head has exited
    try:
        result = subprocess.run(
            [sys.executable, "-m", "pipeline.cli", "status", str(existing_store)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141 and result.stderr == ""


def test_console_script_exit_status(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text(spec(arch="resnet"))
    result = subprocess.run(
        [sys.executable, "-m", "pipeline.cli", "validate", str(bad)], capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "resnet" in result.stderr


def test_entropy_command_prints_a_table(capsys):
    assert (
        main(
            [
                "entropy",
                "dicke",
                "-n",
                "8",
                "--subsystem",
                "first",
                "--m",
                "1..4",
                "--samples",
                "1",
                "--measures",
                "vn",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    # S(m=4) of the n = 8 Dicke state
    from pipeline.numerics.references import dicke_entropy

    assert f"{dicke_entropy(8, 4):.6f}" in out


def test_entropy_command_reports_samples_not_ok(capsys):
    code = main(["entropy", "mlp", "-n", "10", "--samples", "3", "--hyper", "activation=poly8",
                 "--hyper", "depth=8", "--hyper", "width=8"])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    assert "samples not ok: 3 of 3 (nonfinite 3)" in captured.out and captured.err == ""
