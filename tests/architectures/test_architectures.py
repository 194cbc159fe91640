"""Architectures: the shared contract, k, slow reference implementations, validation and
basis order."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from helpers import NAMESPACES, host
from scipy.special import erf

from pipeline.architectures import REGISTRY, get_architecture, make_hyper
from pipeline.architectures.mlp import MLPHyper
from pipeline.architectures.rbm import log_2cosh
from pipeline.architectures.reference import bond_dimensions
from pipeline.architectures.states import full_state
from pipeline.numerics.xp import namespace

DETERMINISTIC = {"ghz", "dicke"}
NP = namespace("numpy")

# Sizes at which every architecture is valid with its defaults (the transformer's default
# patch 6 and stride 5 cover n = 11 exactly with two tokens).
SIZES = {"transformer": 11}


def size(name: str) -> int:
    return SIZES.get(name, 8)


def state(name: str, seed: int, n: int | None = None, xp=NP, **hyper) -> np.ndarray:
    arch = get_architecture(name)
    n = size(name) if n is None else n
    h = arch.hyper(**hyper)
    arch.validate(n, h)
    params = arch.init(np.random.default_rng(seed), n, h)
    return host(full_state(arch, params, n, h, xp))


def all_spins(n: int) -> np.ndarray:
    """Rows ``s`` of every configuration, site 0 the most significant bit."""
    bits = (np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)[None, :]) & 1
    return 2.0 * bits - 1.0


def normalised(values: np.ndarray) -> np.ndarray:
    return values / np.linalg.norm(values)


# --- 1. the contract, for every registered architecture and namespace -----------------


@pytest.mark.parametrize("xp_name", NAMESPACES)
@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_contract(name, xp_name):
    xp = namespace(xp_name)
    arch = REGISTRY[name]
    n = size(name)
    hyper = arch.hyper()
    arch.validate(n, hyper)
    params = arch.init(np.random.default_rng(7), n, hyper)
    assert all(isinstance(v, np.ndarray) for v in params.values()), "params live on the host"
    psi = full_state(arch, params, n, hyper, xp)
    assert psi.dtype == xp.complex128
    psi = host(psi)
    assert psi.shape == (2**n,)
    assert np.all(np.isfinite(psi))
    assert abs(np.linalg.norm(psi) - 1.0) < 1e-12

    again = arch.init(np.random.default_rng(7), n, hyper)
    assert again.keys() == params.keys()
    for key in params:
        np.testing.assert_array_equal(again[key], params[key])
    np.testing.assert_array_equal(host(full_state(arch, again, n, hyper, xp)), psi)

    other = host(full_state(arch, arch.init(np.random.default_rng(8), n, hyper), n, hyper, xp))
    if name in DETERMINISTIC:
        np.testing.assert_array_equal(other, psi)
    else:
        assert np.max(np.abs(other - psi)) > 1e-3


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_namespaces_agree(name):
    reference = state(name, 3)
    strict = state(name, 3, xp=namespace("array_api_strict"))
    np.testing.assert_allclose(strict, reference, rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", sorted(n for n, a in REGISTRY.items() if not a.reference))
def test_batch_size_does_not_change_the_state(name):
    """Bit for bit, for batches that are multiples of 64 (an architecture's ``host_batch``
    must be one). Tiny batches (1, 7) do change the last bit of some amplitudes: BLAS
    switches to other kernels for them."""
    arch = REGISTRY[name]
    n, hyper = size(name), arch.hyper()
    params = arch.init(np.random.default_rng(4), n, hyper)
    whole = full_state(arch, params, n, hyper, NP, batch_size=2**n)
    for batch in (None, 64, 96):
        np.testing.assert_array_equal(
            full_state(arch, params, n, hyper, NP, batch_size=batch), whole
        )


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_single_precision(name):
    arch = REGISTRY[name]
    n, hyper = size(name), arch.hyper()
    params = arch.init(np.random.default_rng(5), n, hyper)
    psi = full_state(arch, params, n, hyper, NP, dtype=NP.complex64)
    assert psi.dtype == NP.complex64
    np.testing.assert_allclose(psi, state(name, 5), rtol=0, atol=2e-5)


def test_every_design_architecture_is_registered():
    design = {"sn", "mlp", "transformer", "random_feature", "dicke", "rbm"}
    references = {"product", "ghz", "haar", "mps"}
    assert design | references <= set(REGISTRY)
    assert all(REGISTRY[name].reference for name in references)
    assert not any(REGISTRY[name].reference for name in design)


# --- 2. k ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "hyper", "n", "expected"),
    [
        ("mlp", {}, 8, 6),
        ("mlp", {"width": 5, "depth": 3}, 8, 15),
        ("random_feature", {}, 8, 200),
        ("random_feature", {"hidden": 7}, 8, 14),
        ("rbm", {}, 8, 8),
        ("rbm", {"density": 2.0}, 8, 16),
        ("rbm", {"density": 0.5}, 6, 3),
        ("sn", {}, 8, 1),
        ("dicke", {}, 8, 1),
        # n = 7, patch 3, stride 2: T = 3 tokens; d = 4, H = 2, d_ff = 8. Per block:
        # 2 heads * 3 * 3 softmax exps = 18, 2 * 3 softmax divisions = 6,
        # 2 LayerNorms * 3 tokens * (sqrt + division) = 12, 3 * 8 activations = 24.
        ("transformer", {"patch": 3, "stride": 2, "d_model": 4, "heads": 2, "layers": 1}, 7, 60),
        ("transformer", {"patch": 3, "stride": 2, "d_model": 4, "heads": 2, "layers": 2}, 7, 120),
        # defaults at n = 11: T = 2, per block 4*4 + 4*2 + 2*2*2 + 2*64 = 160, 4 blocks.
        ("transformer", {}, 11, 640),
    ],
)
def test_k(name, hyper, n, expected):
    arch = get_architecture(name)
    assert arch.k(n, arch.hyper(**hyper)) == expected


@pytest.mark.parametrize("name", ["product", "ghz", "haar", "mps"])
def test_references_have_no_k(name):
    arch = get_architecture(name)
    assert arch.k(8, arch.hyper()) is None


# --- 3. independent slow implementations -----------------------------------------------

NUMPY_ACTIVATIONS = {
    "tanh": np.tanh,
    "sin": np.sin,
    "cos": np.cos,
    "gelu": lambda x: 0.5 * x * (1.0 + erf(x / math.sqrt(2.0))),
    "gelu_tanh": lambda x: (
        0.5 * x * (1.0 + math.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    ),
}


def mlp_slow(params, n, hyper):
    f = NUMPY_ACTIVATIONS[hyper.activation]
    out = []
    depth = sum(1 for name in params if name.startswith("layer") and name.endswith(".W"))
    for s in all_spins(n):
        h = s
        for layer in range(1, depth + 1):
            weight, bias = params[f"layer{layer}.W"], params[f"layer{layer}.b"]
            h = np.array(
                [
                    f(sum(weight[u, i] * h[i] for i in range(len(h))) + bias[u])
                    for u in range(len(bias))
                ]
            )
        re = params["head_re.W"][0] @ h + params["head_re.b"][0]
        im = params["head_im.W"][0] @ h + params["head_im.b"][0]
        out.append(np.exp(hyper.alpha * re + 1j * im) if hyper.mode == "log" else re + 1j * im)
    return normalised(np.array(out))


@pytest.mark.parametrize(
    "hyper",
    [
        {},
        {"mode": "log", "alpha": 0.7, "width": 4, "depth": 3},
        {"activation": "gelu", "bias_std": 0.0},
        {"activation": "gelu_tanh"},
        {"widths": "5,2", "activation": "sin"},
        {"depth": 0},
        {"depth": 0, "mode": "log"},
        {"complex_params": True, "mode": "log"},
        {"complex_params": True, "widths": "4,3"},
    ],
)
def test_mlp_matches_slow_path(hyper):
    arch = get_architecture("mlp")
    h = arch.hyper(**hyper)
    params = arch.init(np.random.default_rng(11), 6, h)
    psi = host(full_state(arch, params, 6, h, NP))
    np.testing.assert_allclose(psi, mlp_slow(params, 6, h), rtol=0, atol=1e-10)


def test_mlp_shapes_and_k_follow_the_layer_widths():
    arch = get_architecture("mlp")
    h = arch.hyper(widths="5,2", complex_params=True)
    params = arch.init(np.random.default_rng(0), 6, h)
    assert {name: p.shape for name, p in params.items()} == {
        "layer1.W": (5, 6),
        "layer1.b": (5,),
        "layer2.W": (2, 5),
        "layer2.b": (2,),
        "head_re.W": (1, 2),
        "head_re.b": (1,),
        "head_im.W": (1, 2),
        "head_im.b": (1,),
    }
    assert all(np.iscomplexobj(p) and np.abs(p.imag).max() > 0 for p in params.values())
    assert arch.k(6, h) == 7 and arch.k(6, arch.hyper(depth=0)) == 0
    # the real parts are drawn first, exactly as for a real network of the same seed
    real = arch.init(np.random.default_rng(0), 6, arch.hyper(widths="5,2"))
    assert all(np.array_equal(params[name].real, real[name]) for name in real)


def test_mlp_mode_decides_log_amplitude():
    arch = get_architecture("mlp")
    assert not arch.is_log_amplitude(MLPHyper())
    assert arch.is_log_amplitude(MLPHyper(mode="log"))
    # mode amplitude returns psi itself, not its logarithm
    h = MLPHyper()
    params = arch.init(np.random.default_rng(0), 4, h)
    values = host(arch.evaluate(params, NP.asarray(all_spins(4)), h, NP))
    np.testing.assert_allclose(normalised(values), mlp_slow(params, 4, h), atol=1e-12)


def layer_norm_slow(x, gain, bias):
    mean = sum(x) / len(x)
    var = sum((v - mean) ** 2 for v in x) / len(x)
    return np.array([(v - mean) / math.sqrt(var + 1e-5) for v in x]) * gain + bias


def transformer_slow(params, n, hyper):
    """Token by token, head by head."""
    f = NUMPY_ACTIVATIONS[hyper.activation]
    P, stride, d, H = hyper.patch, hyper.stride, hyper.d_model, hyper.heads
    T = (n - P) // stride + 1
    dh = d // H

    def lin(name, x):
        return params[f"{name}.W"] @ x + params[f"{name}.b"]

    out = []
    for s in all_spins(n):
        h = [lin("embed", s[j * stride : j * stride + P]) for j in range(T)]
        for layer in range(hyper.layers):
            b = f"block{layer}"
            q = [lin(f"{b}.query", h[t]) for t in range(T)]
            k = [lin(f"{b}.key", h[t]) for t in range(T)]
            v = [lin(f"{b}.value", h[t]) for t in range(T)]
            mixed = [np.zeros(d) for _ in range(T)]
            for head in range(H):
                block = slice(head * dh, (head + 1) * dh)
                for t in range(T):
                    scores = [q[t][block] @ k[u][block] / math.sqrt(dh) for u in range(T)]
                    weights = [math.exp(x) for x in scores]
                    total = sum(weights)
                    mixed[t][block] = sum(w / total * v[u][block] for u, w in enumerate(weights))
            g1, b1 = params[f"{b}.norm1.gain"], params[f"{b}.norm1.bias"]
            g2, b2 = params[f"{b}.norm2.gain"], params[f"{b}.norm2.bias"]
            h = [layer_norm_slow(h[t] + lin(f"{b}.output", mixed[t]), g1, b1) for t in range(T)]
            h = [
                layer_norm_slow(h[t] + lin(f"{b}.ff2", f(lin(f"{b}.ff1", h[t]))), g2, b2)
                for t in range(T)
            ]
        flat = np.concatenate(h)
        re = lin("head_re", flat)[0]
        im = lin("head_im", flat)[0]
        out.append(hyper.alpha * re + 1j * im)
    log_psi = np.array(out)
    return normalised(np.exp(log_psi - log_psi.real.max()))


@pytest.mark.parametrize(
    "hyper",
    [
        {"patch": 3, "stride": 2, "d_model": 8, "heads": 2, "layers": 2},
        {
            "patch": 2,
            "stride": 1,
            "d_model": 6,
            "heads": 3,
            "layers": 1,
            "activation": "gelu",
            "alpha": 0.5,
            "frozen_heads": True,
        },
    ],
)
def test_transformer_matches_slow_path(hyper):
    arch = get_architecture("transformer")
    h = arch.hyper(**hyper)
    n = 7
    params = arch.init(np.random.default_rng(12), n, h)
    # exported networks carry trained LayerNorm gains and biases: use non-trivial ones
    rng = np.random.default_rng(99)
    for key in params:
        if ".norm" in key:
            params[key] = params[key] + 0.3 * rng.normal(size=params[key].shape)
    psi = host(full_state(arch, params, n, h, NP))
    np.testing.assert_allclose(psi, transformer_slow(params, n, h), rtol=0, atol=1e-10)


def test_transformer_parameters():
    arch = get_architecture("transformer")
    h = arch.hyper(frozen_heads=True)
    params = arch.init(np.random.default_rng(0), 16, h)  # T = 3
    assert params["embed.W"].shape == (32, 6)
    assert params["block3.ff1.W"].shape == (64, 32)
    assert params["block3.ff2.W"].shape == (32, 64)
    np.testing.assert_array_equal(params["block0.norm1.gain"], np.ones(32))
    np.testing.assert_array_equal(params["block0.norm2.bias"], np.zeros(32))
    for head in ("head_re", "head_im"):
        assert params[f"{head}.W"].shape == (1, 3 * 32)
        assert abs(np.linalg.norm(params[f"{head}.W"]) - 1.0) < 1e-12
        np.testing.assert_array_equal(params[f"{head}.b"], np.zeros(1))
    # the embedding is the first draw, with fan-in scaling
    rng = np.random.default_rng(0)
    np.testing.assert_array_equal(params["embed.W"], rng.normal(0, 1 / math.sqrt(6), (32, 6)))
    np.testing.assert_array_equal(params["embed.b"], rng.normal(0, 0.2, 32))


def rbm_slow(params, n):
    out = []
    for s in all_spins(n):
        value = np.exp(params["a"] @ s)
        for j in range(params["W"].shape[0]):
            value *= 2 * np.cosh(params["W"][j] @ s + params["b"][j])
        out.append(value)
    return normalised(np.array(out, dtype=complex))


@pytest.mark.parametrize("hyper", [{}, {"complex_params": False, "density": 1.5}])
def test_rbm_matches_slow_path(hyper):
    arch = get_architecture("rbm")
    h = arch.hyper(**hyper)
    params = arch.init(np.random.default_rng(13), 8, h)
    assert np.iscomplexobj(params["W"]) == h.complex_params
    assert params["W"].shape == (round(h.density * 8), 8)
    psi = host(full_state(arch, params, 8, h, NP))
    np.testing.assert_allclose(psi, rbm_slow(params, 8), rtol=0, atol=1e-10)


def test_log_2cosh_is_stable():
    x = np.array([0.3 - 1.2j, -2.0 + 0.5j, 700.0 + 0.3j, -900.0 + 0.3j, 1e4 - 2.0j])
    got = log_2cosh(NP.asarray(x), NP)
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(np.exp(got[:2]), 2 * np.cosh(x[:2]), rtol=1e-13)
    # for |Re x| large, log(2 cosh x) = +-x (imaginary part modulo 2 pi)
    for value, expected in zip(got[2:], [700.0 + 0.3j, 900.0 - 0.3j, 1e4 - 2.0j], strict=True):
        assert abs(value.real - expected.real) < 1e-9
        assert abs(np.exp(1j * (value.imag - expected.imag)) - 1) < 1e-9
    real = np.array([-800.0, 0.0, 1.5])
    np.testing.assert_allclose(
        log_2cosh(NP.asarray(real), NP), [800.0, math.log(2), math.log(2 * math.cosh(1.5))]
    )


def test_rbm_large_weights_normalise():
    psi = state("rbm", 1, weight_std=300.0)
    assert np.all(np.isfinite(psi)) and abs(np.linalg.norm(psi) - 1) < 1e-12


def random_feature_slow(params, n, hyper):
    f = NUMPY_ACTIVATIONS[hyper.activation]
    out = []
    for s in all_spins(n):
        channels = []
        for ch in ("re", "im"):
            total = 0.0
            for i in range(hyper.hidden):
                total += params[f"{ch}.a"][i] * f(params[f"{ch}.W"][i] @ s + params[f"{ch}.b"][i])
            channels.append(total)
        out.append(channels[0] + 1j * channels[1])
    return normalised(np.array(out))


@pytest.mark.parametrize(
    "hyper", [{"hidden": 9}, {"hidden": 5, "activation": "tanh", "bias_dist": "normal"}]
)
def test_random_feature_matches_slow_path(hyper):
    arch = get_architecture("random_feature")
    h = arch.hyper(**hyper)
    params = arch.init(np.random.default_rng(14), 7, h)
    psi = host(full_state(arch, params, 7, h, NP))
    np.testing.assert_allclose(psi, random_feature_slow(params, 7, h), rtol=0, atol=1e-10)


def test_random_feature_distributions():
    arch = get_architecture("random_feature")
    n = 25
    params = arch.init(np.random.default_rng(0), n, arch.hyper(hidden=4000))
    # w ~ N(0, 10^2 / n), a ~ N(0, 1 / N_h), b ~ U(-pi, pi); 4000 * 25 samples
    assert abs(params["re.W"].std() - 10 / math.sqrt(n)) < 0.02
    assert abs(params["im.a"].std() - 1 / math.sqrt(4000)) < 0.001
    assert -math.pi <= params["re.b"].min() and params["re.b"].max() <= math.pi
    assert abs(params["re.b"].std() - math.pi / math.sqrt(3)) < 0.05
    normal = arch.init(np.random.default_rng(0), n, arch.hyper(hidden=4000, bias_dist="normal"))
    assert abs(normal["im.b"].std() - 1.0) < 0.05


@pytest.mark.parametrize("seed", [0, 1])
def test_draw_order(seed):
    """The documented parameter draw order (the seeding contract)."""
    n = 5
    rng = np.random.default_rng(seed)
    mlp = get_architecture("mlp").init(np.random.default_rng(seed), n, MLPHyper(width=2, depth=1))
    expected = [rng.normal(0, 1 / math.sqrt(n), (2, n)), rng.normal(0, 0.2, 2)]
    expected += [rng.normal(0, 1 / math.sqrt(2), (1, 2)), rng.normal(0, 0.2, 1)]
    expected += [rng.normal(0, 1 / math.sqrt(2), (1, 2)), rng.normal(0, 0.2, 1)]
    for key, value in zip(
        ["layer1.W", "layer1.b", "head_re.W", "head_re.b", "head_im.W", "head_im.b"],
        expected,
        strict=True,
    ):
        np.testing.assert_array_equal(mlp[key], value)

    rng = np.random.default_rng(seed)
    rbm_arch = get_architecture("rbm")
    rbm = rbm_arch.init(np.random.default_rng(seed), n, rbm_arch.hyper())
    real = [
        rng.normal(0, 1 / math.sqrt(n), (n, n)),
        rng.normal(0, 0.2, n),
        rng.normal(0, 1 / math.sqrt(n), n),
    ]
    imag = [
        rng.normal(0, 1 / math.sqrt(n), (n, n)),
        rng.normal(0, 0.2, n),
        rng.normal(0, 1 / math.sqrt(n), n),
    ]
    for key, r, i in zip("Wba", real, imag, strict=True):
        np.testing.assert_array_equal(rbm[key], r + 1j * i)

    rng = np.random.default_rng(seed)
    rf = get_architecture("random_feature")
    params = rf.init(np.random.default_rng(seed), n, rf.hyper(hidden=3))
    for ch in ("re", "im"):
        np.testing.assert_array_equal(params[f"{ch}.W"], rng.normal(0, 10 / math.sqrt(n), (3, n)))
        np.testing.assert_array_equal(params[f"{ch}.b"], rng.uniform(-math.pi, math.pi, 3))
        np.testing.assert_array_equal(params[f"{ch}.a"], rng.normal(0, 1 / math.sqrt(3), 3))

    rng = np.random.default_rng(seed)
    haar = get_architecture("haar").init(np.random.default_rng(seed), n, None)
    np.testing.assert_array_equal(haar["psi"], rng.normal(size=32) + 1j * rng.normal(size=32))


# --- reference states -------------------------------------------------------------------


def test_ghz_exact():
    psi = state("ghz", 0, n=6)
    expected = np.zeros(64, dtype=complex)
    expected[[0, 63]] = 1 / math.sqrt(2)
    np.testing.assert_allclose(psi, expected, rtol=0, atol=1e-15)


def test_mps_matches_contraction_and_bond_bound():
    arch = get_architecture("mps")
    n, h = 7, arch.hyper(chi=3)
    params = arch.init(np.random.default_rng(4), n, h)
    bonds = bond_dimensions(n, h)
    assert bonds == [1, 2, 3, 3, 3, 3, 2, 1]
    full = params["site0"]
    for i in range(1, n):
        full = np.tensordot(full, params[f"site{i}"], axes=([-1], [0]))
    expected = normalised(full.reshape(-1))  # (1, 2, ..., 2, 1): site 0 most significant
    psi = host(full_state(arch, params, n, h, NP))
    np.testing.assert_allclose(psi, expected, rtol=0, atol=1e-12)
    for m in range(1, n):
        schmidt = np.linalg.svd(psi.reshape(2**m, -1), compute_uv=False)
        assert np.sum(schmidt > 1e-10) == bonds[m]


# --- 4. validation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "hyper", "field"),
    [
        ("mlp", {"width": -1}, "width"),
        ("mlp", {"depth": -1}, "depth"),
        ("mlp", {"widths": "4,0"}, "widths"),
        ("mlp", {"widths": "4,x"}, "widths"),
        ("mlp", {"widths": "4,4", "depth": 3}, "widths"),
        ("mlp", {"activation": "swish"}, "activation"),
        ("mlp", {"mode": "bogus"}, "mode"),
        ("mlp", {"widht": 3}, "widht"),
        ("mlp", {"width": 2.5}, "width"),
        ("transformer", {"d_model": 30, "heads": 4}, "d_model"),
        ("transformer", {"patch": 0}, "patch"),
        ("transformer", {"layers": -2}, "layers"),
        ("transformer", {"heads": 0}, "heads"),
        ("transformer", {"activation": "swish"}, "activation"),
        ("random_feature", {"hidden": 0}, "hidden"),
        ("random_feature", {"bias_dist": "cauchy"}, "bias_dist"),
        ("random_feature", {"weight_std": -1.0}, "weight_std"),
        ("rbm", {"density": -1.0}, "density"),
        ("rbm", {"bias_std": -0.1}, "bias_std"),
        ("mps", {"chi": 0}, "chi"),
        ("ghz", {"chi": 2}, "chi"),
        ("sn", {"weight_std": 0.0}, "weight_std"),
    ],
)
def test_bad_hyperparameters(name, hyper, field):
    with pytest.raises(ValueError, match=field):
        make_hyper(get_architecture(name), hyper)


def test_bad_mode_without_make_hyper():
    with pytest.raises(ValueError, match="mode"):
        MLPHyper(mode="bogus")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "hyper", "n", "field"),
    [
        ("dicke", {}, 7, "n must be even"),
        ("transformer", {}, 5, "patch"),
        ("rbm", {"density": 0.1}, 4, "density"),
    ],
)
def test_bad_size(name, hyper, n, field):
    arch = get_architecture(name)
    with pytest.raises(ValueError, match=field):
        arch.validate(n, arch.hyper(**hyper))


def test_transformer_patch_longer_than_n_fails_in_init():
    arch = get_architecture("transformer")
    with pytest.raises(ValueError, match="patch"):
        arch.init(np.random.default_rng(0), 5, arch.hyper())


@pytest.mark.parametrize(
    ("n", "hyper", "sites"),
    [
        (8, {}, "sites 6, 7 "),  # one token covers 0..5
        (10, {"patch": 2, "stride": 3}, "sites 2, 5, 8, 9 "),  # gaps and a tail
    ],
)
def test_transformer_warns_on_uncovered_sites(n, hyper, sites):
    arch = get_architecture("transformer")
    h = arch.hyper(**hyper)
    with pytest.warns(UserWarning, match=sites):
        arch.validate(n, h)
    with pytest.warns(UserWarning, match=sites):
        arch.init(np.random.default_rng(0), n, h)


def test_transformer_covered_sites_do_not_warn():
    arch = get_architecture("transformer")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        arch.validate(11, arch.hyper())
        arch.validate(9, arch.hyper(patch=3, stride=3))


# --- 5. basis order ---------------------------------------------------------------------


def test_product_state_basis_order():
    arch = get_architecture("product")
    n = 5
    params = arch.init(np.random.default_rng(2), n, arch.hyper())
    sites = params["sites"]
    np.testing.assert_allclose(np.linalg.norm(sites, axis=1), 1.0, atol=1e-15)
    psi = host(full_state(arch, params, n, arch.hyper(), NP))
    expected = sites[0]
    for i in range(1, n):
        expected = np.kron(expected, sites[i])  # site 0 most significant
    np.testing.assert_allclose(psi, expected, rtol=0, atol=1e-12)
    tensor = psi.reshape((2,) * n)
    index = (1, 0, 0, 1, 0)  # b_i of site i on axis i
    assert abs(tensor[index] - np.prod([sites[i, b] for i, b in enumerate(index)])) < 1e-12


def test_haar_basis_index():
    arch = get_architecture("haar")
    n = 4
    params = arch.init(np.random.default_rng(3), n, arch.hyper())
    spins = NP.asarray([[-1.0, -1.0, -1.0, 1.0], [1.0, -1.0, -1.0, -1.0], [1.0, 1.0, -1.0, 1.0]])
    values = host(arch.evaluate(params, spins, arch.hyper(), NP))
    np.testing.assert_array_equal(values, params["psi"][[1, 8, 13]])
    psi = host(full_state(arch, params, n, arch.hyper(), NP))
    np.testing.assert_allclose(psi, normalised(params["psi"]), rtol=0, atol=1e-15)


def test_gelu_tanh_is_the_approximation_jax_uses():
    from pipeline.numerics.activations import get_activation

    x = np.linspace(-6, 6, 241)
    approximate = get_activation("gelu_tanh")(x, np)
    exact = get_activation("gelu")(x, np)
    # jax.nn.gelu(1.0) = 0.841192 (approximate=True); the exact form gives 0.841345
    assert abs(float(get_activation("gelu_tanh")(np.asarray(1.0), np)) - 0.8411919906) < 1e-9
    assert 1e-5 < np.max(np.abs(approximate - exact)) < 5e-4


@pytest.mark.parametrize(
    ("name", "hyper"),
    [
        ("mlp", {"activation": "sin"}),  # first-layer split, amplitudes
        ("sn", {}),  # first-layer split, log-amplitudes
        ("rbm", {}),  # batched evaluate, log-amplitudes
        ("random_feature", {"hidden": 5, "activation": "tanh"}),
        ("dicke", {}),  # batched evaluate, amplitudes
    ],
)
def test_full_state_holds_one_state_vector_and_its_estimated_evaluation(name, hyper):
    """tracemalloc at n = 18: the values are written into the result and shifted,
    exponentiated and normalised in place, so the peak is one state vector plus the
    evaluation's own bytes, which Architecture.eval_bytes (the memory estimate) bounds."""
    import tracemalloc

    from pipeline.architectures.states import DEFAULT_BATCH

    arch, n = get_architecture(name), 18
    hyper = arch.hyper(**hyper)
    params = arch.init(np.random.default_rng(0), n, hyper)
    xp = namespace("numpy")
    full_state(arch, params, n, hyper, xp)  # imports first
    tracemalloc.start()
    try:
        full_state(arch, params, n, hyper, xp)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert arch.eval_bytes is not None
    estimate = arch.eval_bytes(n, hyper, min(1 << n, arch.batch_for(hyper) or DEFAULT_BATCH))
    assert peak <= 16 * 2**n + estimate
