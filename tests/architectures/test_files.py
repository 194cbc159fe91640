"""Networks from parameter files (.npz, .safetensors with our names): every architecture
round-trips bit for bit, a file that does not fit is refused with one line naming the
file, the parameter and both shapes, and a sweep over files records each file."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from helpers import file_digests, nqs_ent_run, one_line_error, write_spec

from pipeline import load
from pipeline.architectures import REGISTRY, get_architecture
from pipeline.architectures.files import NetworkFileError, check_network, read_network
from pipeline.architectures.states import full_state
from pipeline.cli import main
from pipeline.sweep.spec import SpecError
from pipeline.sweep.validate import load_spec, parse_spec

NETWORKS = sorted(name for name, arch in REGISTRY.items() if not arch.reference)
N = 8


def save(path, params):
    """Write ``params`` in the format of ``path``'s suffix; safetensors has no complex128,
    so complex arrays go as ``NAME.real`` and ``NAME.imag``."""
    if path.suffix == ".npz":
        np.savez(path, **params)
        return path
    from safetensors.numpy import save_file

    arrays = {}
    for name, value in params.items():
        if np.iscomplexobj(value):
            arrays[f"{name}.real"], arrays[f"{name}.imag"] = value.real.copy(), value.imag.copy()
        else:
            arrays[name] = np.ascontiguousarray(value)
    save_file(arrays, str(path))
    return path


def rbm_file(tmp_path, name="rbm.npz", n=N, **hyper):
    arch = get_architecture("rbm")
    return save(tmp_path / name, arch.init(np.random.default_rng(3), n, arch.hyper(**hyper)))


@pytest.mark.parametrize("suffix", [".npz", ".safetensors"])
@pytest.mark.parametrize("name", NETWORKS)
def test_every_architecture_round_trips_bit_for_bit(tmp_path, name, suffix):
    arch = get_architecture(name)
    hyper = arch.hyper()
    n = 11 if name == "transformer" else N  # patches of 6, stride 5: 11 sites covered
    params = arch.init(np.random.default_rng(5), n, hyper)
    network = read_network(save(tmp_path / f"net{suffix}", params), name)
    check_network(network, arch, n, hyper)
    assert network.conversion == "our parameter names" and len(network.sha256) == 64
    assert set(network.params) == set(params)
    np.testing.assert_array_equal(
        full_state(arch, network.params, n, hyper, np), full_state(arch, params, n, hyper, np)
    )


def test_shape_hyperparameters_are_read_from_the_file(tmp_path):
    network = read_network(rbm_file(tmp_path, n=10, density=1.3), "rbm")
    assert network.n == 10 and network.inferred == {"density": 1.3, "complex_params": True}
    mlp = get_architecture("mlp")
    for hyper, inferred in [
        ({"widths": "5,2"}, {"widths": "5,2"}),
        ({"width": 4, "depth": 3}, {"width": 4, "depth": 3}),
        ({"depth": 0, "complex_params": True}, {"depth": 0}),
    ]:
        params = mlp.init(np.random.default_rng(0), 7, mlp.hyper(**hyper))
        network = read_network(save(tmp_path / "mlp.npz", params), "mlp")
        expected = {"complex_params": hyper.get("complex_params", False), **inferred}
        assert network.n == 7 and network.inferred == expected


def test_wrong_hidden_count_is_refused_naming_file_parameter_and_shapes(tmp_path):
    """NetKet's int(1.35 * 10) = 13 hidden units against our round(1.35 * 10) = 14."""
    path = rbm_file(tmp_path, n=10, density=1.3)
    arch = get_architecture("rbm")
    with pytest.raises(NetworkFileError) as caught:
        check_network(read_network(path, "rbm"), arch, 10, arch.hyper(density=1.35))
    message = str(caught.value)
    assert str(path) in message and "'W'" in message
    assert "(13, 10)" in message and "(14, 10)" in message and "density = 1.35" in message


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda p: p.pop("a"), "no parameter 'a'"),
        (lambda p: p.update(c=np.zeros(3)), "unexpected parameter 'c'"),
        (lambda p: p.update(b=np.zeros(5)), "parameter 'b' has shape (5,)"),
        (lambda p: p.update(a=np.full(N, np.nan)), "parameter 'a' is not finite"),
    ],
)
def test_files_that_do_not_fit_are_refused(tmp_path, change, expected):
    arch = get_architecture("rbm")
    params = arch.init(np.random.default_rng(0), N, arch.hyper())
    change(params)
    network = read_network(save(tmp_path / "bad.npz", params), "rbm")
    with pytest.raises(NetworkFileError, match=re.escape(expected)):
        check_network(network, arch, N, arch.hyper())


def test_complex_file_for_real_hyperparameters_is_refused(tmp_path):
    arch = get_architecture("rbm")
    network = read_network(rbm_file(tmp_path), "rbm")
    with pytest.raises(NetworkFileError, match=r"'W' is complex.*complex_params = true"):
        check_network(network, arch, N, arch.hyper(complex_params=False))


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("net.h5", b"", "unknown parameter file format '.h5'"),
        ("net.npz", b"not a zip", "not a readable npz file"),
        ("net.safetensors", b"\x00\x01", "not a readable safetensors file"),
        ("missing.npz", None, "cannot read"),
    ],
)
def test_unreadable_files_are_refused(tmp_path, name, content, expected):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(NetworkFileError, match=expected) as caught:
        read_network(path, "rbm")
    assert str(path) in str(caught.value) and "\n" not in str(caught.value)


def test_half_a_complex_pair_is_refused(tmp_path):
    np.savez(tmp_path / "half.npz", **{"W.real": np.zeros((8, 8))})
    with pytest.raises(NetworkFileError, match=re.escape("'W.real' has no matching 'W.imag'")):
        read_network(tmp_path / "half.npz", "rbm")


# ----------------------------------------------------------------------------- specs

SPEC = """\
name = "files"
seed = 1
[[experiment]]
name = "rbm"
architecture = "rbm"
params = {params}
measures = ["vn", "renyi2"]
subsystem = {{kind = "first", m = "1..n//2"}}
{extra}
"""


def spec_file(folder, params='["runs/step*.npz"]', extra=""):
    path = folder / "spec.toml"
    path.write_text(SPEC.format(params=params, extra=extra))
    return path


@pytest.fixture
def runs(tmp_path):
    (tmp_path / "runs").mkdir()
    for step in (10, 2, 1):
        rbm_file(tmp_path / "runs", f"step{step}.npz", density=1.5)
    return tmp_path


def test_spec_over_files_fills_n_samples_and_shapes_in_natural_order(runs):
    sweep = load_spec(spec_file(runs))
    (experiment,) = sweep.experiments
    assert [p.file.rsplit("/", 1)[1] for p in experiment.params] == [
        "step1.npz",
        "step2.npz",
        "step10.npz",
    ]
    assert experiment.n == (N,) and experiment.samples == 3
    assert experiment.hyper_at(()).density == 1.5 and experiment.hyper_at(()).complex_params
    assert all(
        p.format == "npz" and p.conversion == "our parameter names" for p in experiment.params
    )


def test_a_changed_file_changes_the_digest(runs):
    before = load_spec(spec_file(runs)).digest
    rbm_file(runs / "runs", "step2.npz", density=1.5, weight_std=2.0)
    assert load_spec(spec_file(runs)).digest != before


@pytest.mark.parametrize(
    ("params", "extra", "expected"),
    [
        ('["runs/none*.npz"]', "", "params[0]: 'runs/none*.npz' matches no file"),
        ('["runs/step*.npz"]', "samples = 2", "samples: 2, but params names 3 file(s)"),
        ('["runs/step*.npz"]', "n = 10", "n: 10 does not fit the files"),
        ('["runs/step*.npz"]', "hyper.density = 2.0", "parameter 'W' has shape (12, 8)"),
        ('["runs/step*.npz"]', "hyper.weight_std = [1.0, 2.0]", "a sweep axis does not apply"),
        ("[]", "", "expected a file pattern or a non-empty array"),
    ],
)
def test_bad_file_specs_are_refused(runs, params, extra, expected):
    with pytest.raises(SpecError, match=re.escape(expected)):
        load_spec(spec_file(runs, params, extra))


def test_relative_patterns_follow_the_folder(runs, monkeypatch):
    text = spec_file(runs).read_text()
    monkeypatch.chdir(runs / "runs")
    with pytest.raises(SpecError, match="matches no file"):
        parse_spec(text)
    assert parse_spec(text, folder=runs).experiments[0].samples == 3


def test_sweep_over_files_records_each_file_and_refuses_a_changed_one(runs, capsys):
    """A real run (local Dask cluster, Zarr store): the store names each sample's file,
    format, conversion and SHA-256, and equals the entropies of the files measured one by
    one; once a file changes, resuming is refused (exit 2) and the store is untouched."""
    spec, store = spec_file(runs), runs / "s.zarr"
    assert main(["run", str(spec), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    ds = load(store)["rbm"].ds
    networks = json.loads(ds.attrs["networks"])
    expected = load_spec(spec).experiments[0].params
    assert [(r["sample"], r["file"], r["sha256"]) for r in networks] == [
        (i, p.file, p.sha256) for i, p in enumerate(expected)
    ]
    capsys.readouterr()
    for sample, source in enumerate(expected):
        assert main(["entropy", "rbm", "--params", source.file, "--subsystem", "first",
                     "--m", "4", "--measures", "vn"]) == 0  # fmt: skip
        printed = capsys.readouterr().out
        value = float(printed.split("\n  4  vn")[1].split()[0])
        assert value == pytest.approx(
            float(ds.S_vn.sel(m=4).isel(n=0, sample=sample, window=0)), abs=1e-6
        )
    before = file_digests(store)
    rbm_file(runs / "runs", "step2.npz", density=1.5, weight_std=2.0)
    assert main(["run", str(spec), "--store", str(store), "--workers", "1", "--no-progress"]) == 2
    assert "different spec" in one_line_error(capsys)
    assert file_digests(store) == before


def test_entropy_command_refuses_a_mismatched_file(tmp_path, capsys):
    path = rbm_file(tmp_path, n=10, density=1.3)
    assert main(["entropy", "rbm", "--params", str(path), "--hyper", "density=1.35"]) == 2
    error = one_line_error(capsys)
    assert str(path) in error and "(13, 10)" in error and "(14, 10)" in error


def test_streaming_on_networks_from_files_brackets_the_dense_values(tmp_path, cluster):
    """``method = "streaming"`` on networks read from files: every certified interval
    holds the dense entropy of the same file, and is at most 1e-8 nats wide."""
    mlp = get_architecture("mlp")
    for step in range(2):
        params = mlp.init(np.random.default_rng(step), 12, mlp.hyper(width=6))
        save(tmp_path / f"mlp{step}.safetensors", params)
    spec = """\
name = "streamed-files"
seed = 0
[[experiment]]
name = "mlp"
architecture = "mlp"
params = ["mlp*.safetensors"]
measures = ["vn", "renyi2"]
subsystem = {{kind = "window", m = "2..6", windows = 2}}
method = "{method}"
{options}
"""
    stores = {}
    for method, options in (
        ("dense", ""),
        ("streaming", "streaming = {exact_dim = 8, block = 16}"),
    ):
        path = write_spec(tmp_path, spec.format(method=method, options=options), f"{method}.toml")
        stores[method] = tmp_path / f"{method}.zarr"
        assert nqs_ent_run(path, stores[method], cluster=cluster) == 0
    dense, streamed = (load(stores[m])["mlp"].ds for m in ("dense", "streaming"))
    assert streamed.attrs["method"] == "streaming"
    assert json.loads(streamed.attrs["networks"]) == json.loads(dense.attrs["networks"])
    for measure in ("vn", "renyi2"):
        exact = dense[f"S_{measure}"].values
        lo, hi = (streamed[f"S_{measure}_{side}"].values for side in ("lo", "hi"))
        assert not np.isnan(exact).any() and not np.isnan(lo).any()
        assert np.all(lo <= exact + 1e-12) and np.all(exact <= hi + 1e-12)
        assert np.max(hi - lo) <= 1e-8
