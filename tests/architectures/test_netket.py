"""Real NetKet models, saved as NetKet users save them (``flax.serialization.to_bytes(
vstate.variables)``, ``.mpack``), measured by nqs-ent: the state equals NetKet's exact
``FullSumState.to_array()`` (in our basis order) to 1e-12 and the half-chain Renyi-2 equals
NetKet's exact ``Renyi2EntanglementEntropy`` (bits; we store nats) to 1e-12.

Needs the ``netket`` extra (``pip install -e '.[netket]'``; ``.ci/run`` installs it).
NetKet's default initialisation gives near-product states (S ~ 1e-5), so every parameter is
redrawn from a normal distribution first.
"""

from __future__ import annotations

import functools
import json
import math

import numpy as np
import pytest
from helpers import one_line_error, state_from_file

nk = pytest.importorskip("netket")
jax = pytest.importorskip("jax")
flax = pytest.importorskip("flax")
import jax.numpy as jnp  # noqa: E402

from pipeline import load  # noqa: E402
from pipeline.architectures.files import (  # noqa: E402
    NetworkFileError,
    read_network,
)
from pipeline.cli import main  # noqa: E402
from pipeline.numerics.entropy import entropies  # noqa: E402
from pipeline.numerics.spectra import nested_schmidt_probs  # noqa: E402

N = 10
TOLERANCE = 1e-12
ACTIVATIONS = {
    "tanh": jnp.tanh,
    "sin": jnp.sin,
    "gelu": functools.partial(jax.nn.gelu, approximate=False),
    "gelu_tanh": jax.nn.gelu,  # NetKet's default: jax's gelu is the tanh approximation
    "relu": jax.nn.relu,
}


def trained(model, seed, scale=0.5):
    """A FullSumState of ``model`` on N spins 1/2 with every parameter redrawn from
    ``N(0, scale^2)`` (real and imaginary parts alike): an entangled state."""
    vstate = nk.vqs.FullSumState(nk.hilbert.Spin(0.5, N), model, seed=0)
    leaves, tree = jax.tree_util.tree_flatten(vstate.parameters)
    keys = jax.random.split(jax.random.PRNGKey(seed), 2 * len(leaves))
    drawn = []
    for i, leaf in enumerate(leaves):
        value = scale * jax.random.normal(keys[2 * i], leaf.shape)
        if jnp.iscomplexobj(leaf):
            value = value + 1j * scale * jax.random.normal(keys[2 * i + 1], leaf.shape)
        drawn.append(value.astype(leaf.dtype))
    vstate.parameters = jax.tree_util.tree_unflatten(tree, drawn)
    return vstate


def saved(vstate, path):
    path.write_bytes(flax.serialization.to_bytes(vstate.variables))
    return path


def netket_half_renyi2_nats(vstate) -> float:
    observable = nk.observable.Renyi2EntanglementEntropy(vstate.hilbert, np.arange(N // 2))
    return float(np.real(vstate.expect(observable).mean)) * math.log(2)


def ours(path, architecture, **given):
    """psi (normalised) and the half-chain Renyi-2 in nats, by nqs-ent from the file."""
    psi, network = state_from_file(path, architecture, N, **given)
    probs = nested_schmidt_probs(psi, N, [list(range(N))], [N // 2], np)[N // 2]
    return psi, float(np.asarray(entropies(probs, ["renyi2"], np))[0, 0]), network


def assert_same_state(psi, vstate):
    """Equal to NetKet's to_array() up to a global phase; NetKet's Spin lists local states
    [1, -1], so its vector is ours reversed."""
    reference = np.asarray(vstate.to_array())[::-1]
    overlap = np.vdot(psi, reference)
    np.testing.assert_allclose(abs(overlap), 1.0, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(psi * overlap / abs(overlap), reference, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("alpha", [1, 1.35, 2])
@pytest.mark.parametrize("dtype", [float, complex])
def test_rbm_checkpoint_gives_netkets_state_and_renyi2(tmp_path, alpha, dtype):
    model = nk.models.RBM(alpha=alpha, param_dtype=dtype)
    vstate = trained(model, seed=int(10 * alpha), scale=0.2)
    psi, renyi2, network = ours(saved(vstate, tmp_path / "rbm.mpack"), "rbm")
    assert_same_state(psi, vstate)
    assert renyi2 == pytest.approx(netket_half_renyi2_nats(vstate), rel=0, abs=TOLERANCE)
    assert renyi2 > 0.1  # entangled: NetKet's own initialisation gives S ~ 1e-5
    assert network.n == N and network.params["W"].shape == (int(alpha * N), N)
    assert network.format == "netket" and "W = Dense.kernel^T" in network.conversion


@pytest.mark.parametrize(("hidden", "visible"), [(False, True), (True, False), (False, False)])
def test_rbm_without_biases(tmp_path, hidden, visible):
    model = nk.models.RBM(
        alpha=1, param_dtype=complex, use_hidden_bias=hidden, use_visible_bias=visible
    )
    vstate = trained(model, seed=3)
    psi, renyi2, network = ours(saved(vstate, tmp_path / "rbm.mpack"), "rbm")
    assert_same_state(psi, vstate)
    assert renyi2 == pytest.approx(netket_half_renyi2_nats(vstate), rel=0, abs=TOLERANCE)
    assert ("b = 0" in network.conversion) == (not hidden)
    assert ("a = 0" in network.conversion) == (not visible)


@pytest.mark.parametrize(
    ("activation", "hidden_dims", "dtype", "output_bias", "scale"),
    [
        ("tanh", (6, 4), float, True, 0.7),
        ("sin", (6, 4), complex, False, 0.2),
        ("gelu", (5,), float, False, 0.7),
        ("gelu_tanh", (7, 3), complex, True, 0.35),
        ("relu", (8,), float, True, 0.7),
    ],
)
def test_mlp_checkpoint_gives_netkets_state_and_renyi2(
    tmp_path, activation, hidden_dims, dtype, output_bias, scale
):
    model = nk.models.MLP(
        hidden_dims=hidden_dims,
        hidden_activations=ACTIVATIONS[activation],
        param_dtype=dtype,
        use_output_bias=output_bias,
    )
    # complex sin layers grow like exp|Im u|: a large scale peaks psi on a few
    # configurations (S -> 0), a small one leaves it near a product state
    vstate = trained(model, seed=len(activation), scale=scale)
    path = saved(vstate, tmp_path / "mlp.mpack")
    psi, renyi2, network = ours(path, "mlp", activation=activation, mode="log")
    assert_same_state(psi, vstate)
    assert renyi2 == pytest.approx(netket_half_renyi2_nats(vstate), rel=0, abs=TOLERANCE)
    assert renyi2 > 0.02
    shapes = [network.params[f"layer{i + 1}.W"].shape[0] for i in range(len(hidden_dims))]
    assert tuple(shapes) == hidden_dims


def test_mlp_without_hidden_layer_is_a_product_state(tmp_path):
    """``nk.models.MLP()``'s default: log psi linear in s, depth 0 here, S = 0."""
    vstate = trained(nk.models.MLP(param_dtype=complex), seed=1)
    psi, renyi2, network = ours(saved(vstate, tmp_path / "mlp.mpack"), "mlp", mode="log")
    assert network.inferred["depth"] == 0
    assert_same_state(psi, vstate)
    assert abs(renyi2) < TOLERANCE and abs(netket_half_renyi2_nats(vstate)) < TOLERANCE


def test_one_command_and_a_spec_over_checkpoints(tmp_path, capsys):
    """`nqs-ent entropy rbm --params FILE` prints NetKet's value; a spec over several
    checkpoints (entropy against training step) stores each one's, with its file,
    format, conversion and SHA-256."""
    steps = {}
    for step in (0, 5, 20):
        vstate = trained(
            nk.models.RBM(alpha=2, param_dtype=complex), seed=step, scale=0.1 + step / 40
        )
        steps[step] = (
            saved(vstate, tmp_path / f"rbm_step{step}.mpack"),
            netket_half_renyi2_nats(vstate),
        )
    path, expected = steps[5]
    code = main(["entropy", "rbm", "--params", str(path), "--subsystem", "first",
                 "--m", str(N // 2), "--measures", "renyi2"])  # fmt: skip
    assert code == 0
    row = [line for line in capsys.readouterr().out.splitlines() if "renyi2" in line]
    assert float(row[0].split()[2]) == pytest.approx(expected, abs=1e-6)

    spec = tmp_path / "steps.toml"
    spec.write_text(
        'name = "steps"\nseed = 0\n[[experiment]]\nname = "rbm"\narchitecture = "rbm"\n'
        'params = ["rbm_step*.mpack"]\nmeasures = ["renyi2"]\n'
        f'subsystem = {{kind = "first", m = {N // 2}}}\n'
    )
    store = tmp_path / "steps.zarr"
    assert main(["run", str(spec), "--store", str(store), "--workers", "1", "--no-progress"]) == 0
    ds = load(store)["rbm"].ds
    stored = ds.S_renyi2.sel(m=N // 2).isel(n=0, window=0).values
    np.testing.assert_allclose(stored, [steps[s][1] for s in (0, 5, 20)], rtol=0, atol=TOLERANCE)
    records = json.loads(ds.attrs["networks"])
    assert [r["file"] for r in records] == [str(steps[s][0]) for s in (0, 5, 20)]
    assert all(r["format"] == "netket" and "Dense.kernel^T" in r["conversion"] for r in records)


def test_mismatched_checkpoint_is_refused(tmp_path, capsys):
    """NetKet's int(1.35 * 10) = 13 hidden units; density = 1.35 means 14 here."""
    path = saved(trained(nk.models.RBM(alpha=1.35), seed=0), tmp_path / "rbm.mpack")
    assert main(["entropy", "rbm", "--params", str(path), "--hyper", "density=1.35"]) == 2
    error = one_line_error(capsys)
    assert str(path) in error and "(13, 10)" in error and "(14, 10)" in error
    with pytest.raises(NetworkFileError, match=r"not an nk\.models\.MLP checkpoint"):
        read_network(path, "mlp")
