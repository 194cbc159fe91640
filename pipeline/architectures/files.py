"""Networks from parameter files: a network trained elsewhere, measured like a drawn one.

One file holds one network. The format follows from the suffix:

``.npz``, ``.safetensors``
    Our parameter names and layouts, as ``init`` draws them (``W`` of shape ``(out, in)``,
    ``layer1.W``, ``head_re.b``...). A complex parameter is one complex array, or (the only
    way in ``.safetensors``, which has no complex128) two real arrays ``NAME.real`` and
    ``NAME.imag``.
``.mpack`` (or ``.msgpack``)
    A NetKet/flax checkpoint as NetKet users save it,
    ``flax.serialization.to_bytes(vstate.variables)`` (also what ``nk.logging.JsonLog``
    writes with ``save_params``), of ``nk.models.RBM`` (architecture ``rbm``) or
    ``nk.models.MLP`` (architecture ``mlp``); read through flax (the ``netket`` extra).
    :func:`from_netket_rbm` and :func:`from_netket_mlp` apply NetKet's conventions and
    say which in the conversion they return.
``.pt`` (or ``.pth``)
    A torch ``state_dict`` (``torch.save(model.state_dict(), path)``) of the paper's
    architectures with the names of the author's code (``bound-nqs``: ``MLPNQS``,
    ``PatchTransformerNQS``, ``RandomFeatureNQS``, ``SingleNonlinearityNQS``), read with
    ``torch.load(weights_only=True)`` (the ``torch`` extra); :func:`from_torch` renames.

The shapes then fix the hyperparameters that count units (:data:`INFERRED`: the RBM's
``density``, the MLP's layer widths, complex parameters): those the user did not give are
read from the file, those given must agree (:func:`check_network`). What the file cannot
say (the MLP's activation, NetKet's ``output_activation``) the user gives; the README's
"Your own trained network" lists the conventions. Every reading is recorded with the
file's SHA-256 (:meth:`NetworkFile.provenance`), and a mismatch is a
:class:`NetworkFileError`: one line naming the file, the parameter and both shapes.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.architectures.base import Architecture, Params, hyper_dict

FORMATS = {
    ".npz": "npz",
    ".safetensors": "safetensors",
    ".mpack": "netket",
    ".msgpack": "netket",
    ".pt": "torch",
    ".pth": "torch",
}
"""Suffix -> format."""

INFERRED = {
    "rbm": ("density", "complex_params"),
    "mlp": ("width", "depth", "widths", "complex_params"),
    "transformer": ("patch", "d_model", "layers"),
    "random_feature": ("hidden",),
}
"""Hyperparameters the parameter shapes decide, per architecture; read from the file when
the user does not give them."""

OUR_NAMES = "our parameter names"
NETKET_SPIN = (
    "NetKet's Spin lists local states [1, -1] (unless inverted_ordering=True), so its "
    "to_array() is this state with the basis reversed (index x <-> 2^N - 1 - x); the "
    "network reads the same +-1 values, so every amplitude and entropy agrees"
)


class NetworkFileError(ValueError):
    """A parameter file that cannot be read, or does not fit the hyperparameters."""


@dataclass(frozen=True)
class NetworkFile:
    """One network read from a file, in our parameter names (:func:`read_network`)."""

    path: str
    """The file, as an absolute path."""
    format: str
    """One of the values of :data:`FORMATS`."""
    conversion: str
    """How the file's parameters became ours (``"our parameter names"`` when unchanged)."""
    sha256: str
    """The file's SHA-256 (hex)."""
    params: Params = field(repr=False)
    """The parameters, as ``init`` would draw them."""
    n: int | None
    """The number of spins the parameters read, where they say (else None)."""
    inferred: dict[str, Any]
    """Values of the shape hyperparameters (:data:`INFERRED`) the parameters imply."""

    def provenance(self) -> dict[str, str]:
        """What the store records of this file: ``file``, ``format``, ``conversion``,
        ``sha256``."""
        return {
            "file": self.path,
            "format": self.format,
            "conversion": self.conversion,
            "sha256": self.sha256,
        }


def read_network(path: str | Path, architecture: str) -> NetworkFile:
    """Read one network of ``architecture`` from ``path`` (format from the suffix).

    Raises
    ------
    NetworkFileError
        When the file cannot be read, its format is unknown, or (NetKet) its tree is not
        one of ``nk.models.RBM`` or ``nk.models.MLP`` as ``architecture`` names.
    """
    path = Path(path).resolve()
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise NetworkFileError(
            f"{path}: unknown parameter file format {path.suffix or '(no suffix)'!r} "
            f"(expected one of {', '.join(FORMATS)})"
        )
    try:
        data = path.read_bytes()
    except OSError as error:
        raise NetworkFileError(f"{path}: cannot read: {error.strerror or error}") from None
    digest = hashlib.sha256(data).hexdigest()
    if kind == "netket":
        converters = {"rbm": from_netket_rbm, "mlp": from_netket_mlp}
        if architecture not in converters:
            raise NetworkFileError(
                f"{path}: NetKet checkpoints convert to architecture rbm (nk.models.RBM) or "
                f"mlp (nk.models.MLP), not {architecture!r}"
            )
        params, conversion = converters[architecture](_restore_flax(path, data), str(path))
    elif kind == "torch":
        params, conversion = from_torch(_load_torch(path), architecture, str(path))
    else:
        params, conversion = _read_arrays(path, kind), OUR_NAMES
    n, inferred = _implied(architecture, params)
    return NetworkFile(str(path), kind, conversion, digest, params, n, inferred)


def check_network(network: NetworkFile, architecture: Architecture, n: int, hyper: Any) -> None:
    """Raise :class:`NetworkFileError` unless ``network`` has exactly the parameters that
    ``architecture`` draws at ``n`` with ``hyper``: the same names, shapes, and no complex
    array where the hyperparameters ask for real ones."""
    try:
        architecture.validate(n, hyper)
        expected = architecture.init(np.random.default_rng(0), n, hyper)
    except ValueError as error:
        raise NetworkFileError(f"{network.path}: {error}") from None
    given = network.params
    settings = _settings(architecture, n, hyper)
    missing = [name for name in expected if name not in given]
    if missing:
        raise NetworkFileError(
            f"{network.path}: no parameter {missing[0]!r} (expected {', '.join(expected)} "
            f"for {settings}; the file has {', '.join(given) or 'none'})"
        )
    extra = [name for name in given if name not in expected]
    if extra:
        raise NetworkFileError(
            f"{network.path}: unexpected parameter {extra[0]!r} (expected "
            f"{', '.join(expected)} for {settings})"
        )
    for name, want in expected.items():
        got = given[name]
        if got.shape != want.shape:
            raise NetworkFileError(
                f"{network.path}: parameter {name!r} has shape {got.shape}, but {settings} "
                f"gives {want.shape}"
            )
        if np.iscomplexobj(got) and not np.iscomplexobj(want):
            raise NetworkFileError(
                f"{network.path}: parameter {name!r} is complex, but {settings} has real "
                "parameters (set complex_params = true)"
            )
        if not np.all(np.isfinite(got)):
            raise NetworkFileError(f"{network.path}: parameter {name!r} is not finite")


def complete_hyper(
    network: NetworkFile, architecture: Architecture, given: Mapping[str, Any]
) -> dict[str, Any]:
    """``given`` hyperparameters plus those of :data:`INFERRED` the file implies and the
    user did not give (``widths`` only when the MLP's layers differ in width)."""
    inferred = dict(network.inferred)
    if architecture.name == "mlp" and ({"width", "depth", "widths"} & set(given)):
        inferred = {k: v for k, v in inferred.items() if k not in ("width", "depth", "widths")}
    return {**inferred, **given}


def load_network(
    path: str, architecture: Architecture, n: int, hyper: Any, sha256: str | None = None
) -> Params:
    """Read and check one file (what a task does per sample): its parameters. With
    ``sha256``, a file whose contents changed since is refused."""
    network = read_network(path, architecture.name)
    if sha256 is not None and network.sha256 != sha256:
        raise NetworkFileError(
            f"{network.path}: the file changed since the spec was read (SHA-256 "
            f"{network.sha256[:12]}..., expected {sha256[:12]}...); run the sweep again"
        )
    check_network(network, architecture, n, hyper)
    return network.params


# ----------------------------------------------------------------------------- formats


def _read_arrays(path: Path, kind: str) -> Params:
    try:
        if kind == "npz":
            with np.load(path, allow_pickle=False) as archive:
                arrays = {name: np.asarray(archive[name]) for name in archive.files}
        else:
            from safetensors.numpy import load_file

            arrays = load_file(str(path))
    except Exception as error:  # zipfile, safetensors and numpy errors alike
        raise NetworkFileError(
            f"{path}: not a readable {kind} file: {_first_line(error)}"
        ) from None
    params: Params = {}
    for name, value in arrays.items():
        base, _, part = name.rpartition(".")
        if part in ("real", "imag") and base:
            other = f"{base}.{'imag' if part == 'real' else 'real'}"
            if other not in arrays:
                raise NetworkFileError(f"{path}: {name!r} has no matching {other!r}")
            if part == "real":
                params[base] = arrays[name] + 1j * arrays[other]
            continue
        params[name] = value
    for name, value in params.items():
        if not (np.issubdtype(value.dtype, np.floating) or np.iscomplexobj(value)):
            raise NetworkFileError(f"{path}: parameter {name!r} has dtype {value.dtype}, not float")
        params[name] = value.astype(np.complex128 if np.iscomplexobj(value) else np.float64)
    return params


def _restore_flax(path: Path, data: bytes) -> Any:
    try:
        from flax.serialization import msgpack_restore
    except ImportError:
        raise NetworkFileError(
            f"{path}: reading a NetKet checkpoint needs flax: pip install 'nqs-ent[netket]'"
        ) from None
    try:
        return msgpack_restore(data)
    except Exception as error:
        raise NetworkFileError(
            f"{path}: not a flax msgpack checkpoint: {_first_line(error)}"
        ) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


# ----------------------------------------------------------------------------- NetKet


def _params_tree(tree: Any, path: str) -> dict[str, Any]:
    """``variables["params"]`` (what ``vstate.variables`` holds), or the tree itself."""
    if not isinstance(tree, dict):
        raise NetworkFileError(f"{path}: the checkpoint is not a tree of parameters")
    inner = tree.get("params", tree)
    if not isinstance(inner, dict):
        raise NetworkFileError(f"{path}: the checkpoint's 'params' is not a tree")
    return inner


def _array(tree: Mapping[str, Any], key: str, path: str, where: str) -> np.ndarray | None:
    value = tree.get(key)
    if value is None:
        return None
    array = np.asarray(value)
    if not (np.issubdtype(array.dtype, np.floating) or np.iscomplexobj(array)):
        raise NetworkFileError(f"{path}: {where}/{key} has dtype {array.dtype}, not float")
    return array.astype(np.complex128 if np.iscomplexobj(array) else np.float64)


def from_netket_rbm(tree: Any, path: str = "checkpoint") -> tuple[Params, str]:
    """``nk.models.RBM`` variables -> our ``rbm`` parameters, and the conversion applied.

    NetKet's ``Dense`` kernel is ``(in, out)`` = ``(N, M)``: ``W = kernel^T``; its
    ``visible_bias`` is our ``a``; a model without hidden or visible bias has zeros. Its
    ``log_cosh`` omits our ``log 2`` per hidden unit, a constant that cancels on
    normalising. ``M`` is NetKet's ``int(alpha * N)``; the file's ``density`` is ``M / N``.
    """
    params = _params_tree(tree, path)
    dense = params.get("Dense")
    kernel = _array(dense, "kernel", path, "Dense") if isinstance(dense, dict) else None
    if kernel is None or kernel.ndim != 2:
        raise NetworkFileError(
            f"{path}: not an nk.models.RBM checkpoint (no 2-d params/Dense/kernel; "
            f"found {', '.join(params) or 'nothing'})"
        )
    n_visible, n_hidden = kernel.shape
    assert isinstance(dense, dict)
    bias = _array(dense, "bias", path, "Dense")
    visible = _array(params, "visible_bias", path, "params")
    notes = [
        "W = Dense.kernel^T (NetKet's kernel is (in, out))",
        "b = Dense.bias",
        "a = visible_bias",
    ]
    if bias is None:
        bias, notes[1] = np.zeros(n_hidden), "b = 0 (use_hidden_bias=False)"
    if visible is None:
        visible, notes[2] = np.zeros(n_visible), "a = 0 (use_visible_bias=False)"
    for name, value, shape in (
        ("Dense/bias", bias, (n_hidden,)),
        ("visible_bias", visible, (n_visible,)),
    ):
        if value.shape != shape:
            raise NetworkFileError(
                f"{path}: parameter {name!r} has shape {value.shape}, but Dense/kernel "
                f"{kernel.shape} gives {shape}"
            )
    notes += ["log_cosh without our log 2 per hidden unit (a constant)", NETKET_SPIN]
    return {"W": kernel.T.copy(), "b": bias, "a": visible}, "NetKet nk.models.RBM: " + "; ".join(
        notes
    )


def from_netket_mlp(tree: Any, path: str = "checkpoint") -> tuple[Params, str]:
    """``nk.models.MLP`` variables -> our ``mlp`` parameters (mode ``log``, ``alpha = 1``),
    and the conversion applied.

    NetKet's MLP returns ``log psi = Dense_L(f(... f(Dense_0 s)))``: hidden ``Dense_l``
    become ``layer<l+1>`` (kernels transposed), the output layer ``head_re`` and
    ``head_im = 0``, so ``alpha re + i im`` is NetKet's output, real or complex. Missing
    biases (``use_output_bias=False``, NetKet's default) are zeros. The checkpoint holds no
    activations: give ``activation`` (``gelu_tanh`` for NetKet's default ``jax.nn.gelu``);
    an ``output_activation`` cannot be expressed.
    """
    params = _params_tree(tree, path)
    block = params.get("MLP_0", params)  # nk.models.MLP wraps nk.nn.blocks.MLP
    if not isinstance(block, dict) or "Dense_0" not in block:
        raise NetworkFileError(
            f"{path}: not an nk.models.MLP checkpoint (no params/MLP_0/Dense_0; "
            f"found {', '.join(params) or 'nothing'})"
        )
    layers: list[tuple[np.ndarray, np.ndarray]] = []
    while f"Dense_{len(layers)}" in block:
        where = f"MLP_0/Dense_{len(layers)}"
        dense = block[f"Dense_{len(layers)}"]
        kernel = _array(dense, "kernel", path, where) if isinstance(dense, dict) else None
        if kernel is None or kernel.ndim != 2:
            raise NetworkFileError(f"{path}: {where} has no 2-d kernel")
        bias = _array(dense, "bias", path, where)
        if bias is None:
            bias = np.zeros(kernel.shape[1])
        if bias.shape != (kernel.shape[1],):
            raise NetworkFileError(
                f"{path}: parameter '{where}/bias' has shape {bias.shape}, but its kernel "
                f"{kernel.shape} gives {(kernel.shape[1],)}"
            )
        if layers and kernel.shape[0] != layers[-1][0].shape[1]:
            raise NetworkFileError(
                f"{path}: parameter '{where}/kernel' has shape {kernel.shape}, but the layer "
                f"before has {layers[-1][0].shape[1]} outputs"
            )
        layers.append((kernel, bias))
    *hidden, (out_kernel, out_bias) = layers
    if out_kernel.shape[1] != 1:
        raise NetworkFileError(
            f"{path}: the output layer Dense_{len(hidden)} has {out_kernel.shape[1]} outputs, "
            "not 1 (nk.models.MLP has one)"
        )
    ours: Params = {}
    for index, (kernel, bias) in enumerate(hidden, start=1):
        ours[f"layer{index}.W"], ours[f"layer{index}.b"] = kernel.T.copy(), bias
    ours["head_re.W"], ours["head_re.b"] = out_kernel.T.copy(), out_bias
    ours["head_im.W"], ours["head_im.b"] = np.zeros_like(out_kernel.T), np.zeros_like(out_bias)
    conversion = (
        "NetKet nk.models.MLP: layer<l+1> = Dense_l with W = kernel^T (NetKet's kernel is "
        f"(in, out)); head_re = Dense_{len(hidden)} (the output layer), head_im = 0; mode log, "
        "alpha 1 (log psi = NetKet's output); missing biases are 0; " + NETKET_SPIN
    )
    return ours, conversion


# ----------------------------------------------------------------------------- torch

TORCH_NAMES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "sn": ("SingleNonlinearityNQS", ((r"w", "w"), (r"b", "b"))),
    "mlp": (
        "MLPNQS",
        (
            (r"hidden\.(\d+)\.weight", "layer{+1}.W"),
            (r"hidden\.(\d+)\.bias", "layer{+1}.b"),
            (r"head_(re|im)\.weight", "head_{}.W"),
            (r"head_(re|im)\.bias", "head_{}.b"),
        ),
    ),
    "transformer": (
        "PatchTransformerNQS",
        (
            (r"embed\.weight", "embed.W"),
            (r"embed\.bias", "embed.b"),
            *(
                (rf"{torch}_layers\.(\d+)\.{part}", f"block{{}}.{ours}.{short}")
                for torch, ours in (
                    ("q", "query"),
                    ("k", "key"),
                    ("v", "value"),
                    ("o", "output"),
                    ("ff1", "ff1"),
                    ("ff2", "ff2"),
                )
                for part, short in (("weight", "W"), ("bias", "b"))
            ),
            *(
                (rf"ln([12])\.(\d+)\.{part}", f"block{{1}}.norm{{0}}.{short}")
                for part, short in (("weight", "gain"), ("bias", "bias"))
            ),
            (r"head_(re|im)\.weight", "head_{}.W"),
            (r"head_(re|im)\.bias", "head_{}.b"),
        ),
    ),
    "random_feature": (
        "RandomFeatureNQS",
        tuple(
            (rf"{torch}_(re|im)", f"{{}}.{ours}")
            for torch, ours in (("w", "W"), ("b", "b"), ("a", "a"))
        ),
    ),
}
"""Per architecture: the author's torch module and (state_dict key pattern, our name)
pairs; ``{}`` takes the pattern's groups in order (``{+1}``: the first, plus one)."""


def _load_torch(path: Path) -> Any:
    try:
        import torch
    except ImportError:
        raise NetworkFileError(
            f"{path}: reading a torch state_dict needs torch: pip install 'nqs-ent[torch]'"
        ) from None
    try:
        tree = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise NetworkFileError(
            f"{path}: not a torch state_dict (save one with torch.save(model.state_dict(), "
            f"path)): {_first_line(error)}"
        ) from None
    if isinstance(tree, Mapping) and isinstance(tree.get("state_dict"), Mapping):
        tree = tree["state_dict"]  # a training checkpoint that wraps the state_dict
    if not isinstance(tree, Mapping):
        raise NetworkFileError(f"{path}: holds a {type(tree).__name__}, not a state_dict")
    return {
        str(key): value.detach().numpy() for key, value in tree.items() if hasattr(value, "detach")
    }


def from_torch(
    state: Mapping[str, Any], architecture: str, path: str = "state_dict"
) -> tuple[Params, str]:
    """A torch ``state_dict`` (names as the author's ``bound-nqs`` modules have them) ->
    our parameters of ``architecture``, and the conversion applied.

    ``nn.Linear.weight`` is ``(out, in)`` like our ``W``, so layers are renamed, not
    transposed; ``nn.LayerNorm`` ``weight``/``bias`` are our ``gain``/``bias``; the SN-NQS
    coefficient is ``a = a_real + i a_imag`` and its scalar ``b`` becomes shape ``(1,)``.
    The spin ordering is the same (site 0 the most significant bit, ``s = 2 b - 1``).
    Arrays become float64 (a float32 network is evaluated in double precision). What the
    state_dict cannot say (activation, ``fan_in``, the MLP's ``mode``: the author's
    ``phase_magnitude`` is our ``log``, ``alpha_amp`` our ``alpha``; the transformer's
    ``stride``, ``heads`` and ``alpha``, the author's default ``alpha_amp`` 0) the user
    gives.
    """
    if architecture not in TORCH_NAMES:
        raise NetworkFileError(
            f"{path}: torch state_dicts convert to architecture "
            f"{', '.join(TORCH_NAMES)} (the author's modules), not {architecture!r}"
        )
    module, patterns = TORCH_NAMES[architecture]
    params: Params = {}
    for key, value in state.items():
        array = np.asarray(value)
        if not (np.issubdtype(array.dtype, np.floating) or np.iscomplexobj(array)):
            raise NetworkFileError(f"{path}: {key} has dtype {array.dtype}, not float")
        array = array.astype(np.complex128 if np.iscomplexobj(array) else np.float64)
        if architecture == "sn" and key in ("a_real", "a_imag"):
            continue
        for pattern, name in patterns:
            match = re.fullmatch(pattern, key)
            if match:
                groups = match.groups()
                if "{+1}" in name:
                    name = name.replace("{+1}", str(int(groups[0]) + 1))
                params[name.format(*groups)] = array.reshape(-1) if array.ndim == 0 else array
                break
        else:
            raise NetworkFileError(
                f"{path}: unexpected torch parameter {key!r} for {module} (architecture "
                f"{architecture})"
            )
    notes = ["nn.Linear weight (out, in) = our W", "same spin order (site 0 the leading bit)"]
    if architecture == "sn":
        if "a_real" not in state or "a_imag" not in state:
            raise NetworkFileError(f"{path}: {module} needs a_real and a_imag")
        a_real, a_imag = (float(np.asarray(state[key]).item()) for key in ("a_real", "a_imag"))
        params["a"] = np.array([a_real + 1j * a_imag])
        notes = ["a = a_real + i a_imag", "b reshaped to (1,)", notes[1]]
    if architecture == "transformer":
        notes.insert(1, "LayerNorm weight, bias = gain, bias")
    return params, f"torch {module} state_dict: " + "; ".join(notes)


# ----------------------------------------------------------------------------- shapes


def _implied(architecture: str, params: Params) -> tuple[int | None, dict[str, Any]]:
    """The number of spins and the shape hyperparameters (:data:`INFERRED`) the
    parameters imply; ``(None, {})`` where they do not fit the architecture's names (the
    shape check then says what is wrong)."""
    complex_params = any(np.iscomplexobj(value) for value in params.values())
    if architecture == "rbm" and "W" in params and params["W"].ndim == 2:
        hidden, n = params["W"].shape
        return n, {"density": hidden / n, "complex_params": complex_params}
    if architecture == "mlp":
        widths: list[int] = []
        while (
            f"layer{len(widths) + 1}.W" in params and params[f"layer{len(widths) + 1}.W"].ndim == 2
        ):
            widths.append(params[f"layer{len(widths) + 1}.W"].shape[0])
        first = params.get("layer1.W", params.get("head_re.W"))
        if first is None or first.ndim != 2:
            return None, {}
        inferred: dict[str, Any] = {"complex_params": complex_params}
        if not widths:
            inferred["depth"] = 0
        elif len(set(widths)) == 1:
            inferred["width"], inferred["depth"] = widths[0], len(widths)
        else:
            inferred["widths"] = ",".join(map(str, widths))
        return first.shape[1], inferred
    if architecture == "transformer" and params.get("embed.W", np.empty(0)).ndim == 2:
        layers = 0
        while f"block{layers}.query.W" in params:
            layers += 1
        d_model, patch = params["embed.W"].shape
        return None, {"patch": patch, "d_model": d_model, "layers": layers}
    if architecture == "random_feature" and params.get("re.W", np.empty(0)).ndim == 2:
        hidden, n = params["re.W"].shape
        return n, {"hidden": hidden}
    if architecture == "sn" and params.get("w", np.empty(0)).ndim == 1:
        return params["w"].shape[0], {}
    return None, {}


def _settings(architecture: Architecture, n: int, hyper: Any) -> str:
    """``"rbm with density = 1.35 at n = 10"``: the shape hyperparameters in force."""
    values = hyper_dict(hyper)
    names = [name for name in INFERRED.get(architecture.name, ()) if name in values]
    if architecture.name == "mlp":
        names = ["widths"] if values["widths"] else ["width", "depth"]
        names.append("complex_params")
    shown = ", ".join(f"{name} = {_value(values[name])}" for name in names)
    return (
        f"{architecture.name} with {shown} at n = {n}"
        if shown
        else f"{architecture.name} at n = {n}"
    )


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:g}"
    return repr(value) if isinstance(value, str) else str(value)
