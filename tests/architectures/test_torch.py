"""Torch ``state_dict`` files of the paper's architectures, as the author's code
(``bound-nqs``, ``../shared/peers/bound-nqs``) names them: saved with
``torch.save(model.state_dict(), path)``, read by nqs-ent, the normalised state equals the
author's ``build_normalized_state`` of the same module to 1e-12 (same basis order, float64).

Needs the ``torch`` extra (``pip install -e '.[torch]'``; ``.ci/run`` installs it) and the
author's code (skipped without it; the refusals need only torch).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers import one_line_error, state_from_file

torch = pytest.importorskip("torch")

from pipeline.architectures.files import (  # noqa: E402
    NetworkFileError,
    read_network,
)
from pipeline.bench.states import PEER  # noqa: E402
from pipeline.cli import main  # noqa: E402

N = 10
TOLERANCE = 1e-12


@pytest.fixture
def author():
    """The author's module ``boundnqs``, building float64 networks."""
    if not (PEER / "boundnqs.py").exists():
        pytest.skip(f"the author's code is not at {PEER}")
    sys.path.insert(0, str(PEER))
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        import boundnqs

        yield boundnqs
    finally:
        torch.set_default_dtype(previous)
        sys.path.remove(str(PEER))


def saved(model, path):
    torch.save(model.state_dict(), path)
    return path


def ours(path, architecture, **given):
    return state_from_file(path, architecture, N, **given)


def authors_state(boundnqs, model):
    return boundnqs.build_normalized_state(model, N).numpy()


def assert_same_state(psi, reference):
    np.testing.assert_allclose(psi, reference, rtol=0, atol=TOLERANCE)
    assert np.linalg.norm(reference - reference[0]) > 0.1  # not a flat state


@pytest.mark.parametrize(
    ("mode", "fan_in", "activation"), [("real", False, "tanh"), ("general", True, "sin")]
)
def test_single_nonlinearity(tmp_path, author, mode, fan_in, activation):
    torch.manual_seed(1)
    config = author.SingleNonlinearityConfig(
        n_qubits=N, activation=activation, mode=mode, use_fan_in=fan_in
    )
    model = author.SingleNonlinearityNQS(config)
    psi, network = ours(
        saved(model, tmp_path / "sn.pt"), "sn", activation=activation, fan_in=fan_in
    )
    assert_same_state(psi, authors_state(author, model))
    assert network.format == "torch" and "a = a_real + i a_imag" in network.conversion


@pytest.mark.parametrize(
    ("activation", "phase_magnitude", "given"),
    [
        ("tanh", False, {}),
        ("sin", True, {"mode": "log", "alpha": 0.5}),
        ("gelu", False, {}),
    ],
)
def test_mlp(tmp_path, author, activation, phase_magnitude, given):
    torch.manual_seed(2)
    model = author.MLPNQS(
        N, width=6, depth=2, activation=activation, bias_std=0.2,
        phase_magnitude=phase_magnitude, alpha_amp=given.get("alpha", 0.0),
    )  # fmt: skip
    psi, network = ours(saved(model, tmp_path / "mlp.pt"), "mlp", activation=activation, **given)
    assert_same_state(psi, authors_state(author, model))
    assert network.inferred == {"width": 6, "depth": 2, "complex_params": False}


def test_transformer_with_trained_layer_norms(tmp_path, author):
    """Patches 4, stride 2 cover the 10 sites in 4 tokens; the LayerNorm gains and biases
    are redrawn (a trained network's are not 1 and 0)."""
    torch.manual_seed(3)
    model = author.PatchTransformerNQS(
        N, patch_size=4, stride=2, d_model=8, n_heads=2, n_layers=2, alpha_amp=0.7
    )
    with torch.no_grad():
        for norm in [*model.ln1, *model.ln2]:
            norm.weight.normal_(1.0, 0.3)
            norm.bias.normal_(0.0, 0.3)
    psi, network = ours(
        saved(model, tmp_path / "tnqs.pt"), "transformer", stride=2, heads=2, alpha=0.7
    )
    assert_same_state(psi, authors_state(author, model))
    assert network.inferred == {"patch": 4, "d_model": 8, "layers": 2}
    assert "LayerNorm weight, bias = gain, bias" in network.conversion


@pytest.mark.parametrize("activation", ["cos", "tanh"])
def test_random_feature(tmp_path, author, activation):
    torch.manual_seed(4)
    model = author.RandomFeatureNQS(N, hidden_units=12, activation=activation)
    psi, network = ours(saved(model, tmp_path / "rf.pt"), "random_feature", activation=activation)
    assert_same_state(psi, authors_state(author, model))
    assert network.n == N and network.inferred == {"hidden": 12}


def test_float32_training_checkpoint(tmp_path, author):
    """A float32 network wrapped in a training checkpoint (``{"state_dict": ...}``) is read
    and evaluated in float64: equal to the author's float64 evaluation of the same values."""
    torch.manual_seed(5)
    model = author.MLPNQS(N, width=5, depth=1).float()
    path = tmp_path / "checkpoint.pth"
    torch.save({"state_dict": model.state_dict(), "epoch": 3}, path)
    psi, _ = ours(path, "mlp")
    assert_same_state(psi, authors_state(author, model.double()))


def test_cli_measures_a_state_dict_and_refuses_a_mismatch(tmp_path, capsys, author):
    model = author.RandomFeatureNQS(N, hidden_units=12)
    path = saved(model, tmp_path / "cosnet.pt")
    assert main(["entropy", "random_feature", "--params", str(path), "--subsystem", "first",
                 "--m", "3", "--measures", "vn"]) == 0  # fmt: skip
    assert "vn" in capsys.readouterr().out
    assert main(["entropy", "random_feature", "--params", str(path), "--hyper", "hidden=10"]) == 2
    error = one_line_error(capsys)
    assert str(path) in error and "(12, 10)" in error and "(10, 10)" in error


def test_refusals(tmp_path):
    """A whole pickled module, an unknown key, an architecture the author's code lacks."""
    module = torch.nn.Linear(N, 3)
    whole = tmp_path / "whole.pt"
    torch.save(module, whole)
    with pytest.raises(NetworkFileError, match=r"not a torch state_dict .*model\.state_dict"):
        read_network(whole, "mlp")
    linear = saved(module, tmp_path / "linear.pt")
    with pytest.raises(NetworkFileError, match=r"unexpected torch parameter 'weight' for MLPNQS"):
        read_network(linear, "mlp")
    with pytest.raises(NetworkFileError, match=r"not 'rbm'"):
        read_network(linear, "rbm")
    torch.save({"w": torch.zeros(N), "b": torch.zeros(())}, tmp_path / "sn.pt")
    with pytest.raises(NetworkFileError, match=r"needs a_real and a_imag"):
        read_network(tmp_path / "sn.pt", "sn")
