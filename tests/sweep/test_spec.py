"""Sweep specs: parsing into dataclasses, range expressions, grids, digests, errors."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pytest

from pipeline.architectures import REGISTRY, Architecture, get_architecture
from pipeline.sweep.cluster import ClusterSpec
from pipeline.sweep.spec import Experiment, SpecError, Sweep
from pipeline.sweep.subsystems import SubsystemSpec
from pipeline.sweep.validate import load_spec, parse_spec

FULL = """\
name = "quickstart"
seed = 1234
backend = "auto"
dtype = "complex64"
description = "SN networks and a Dicke reference"

[cluster]
partition = "debug"
cpus_per_task = 8

[[experiment]]
name = "sn_real"
architecture = "sn"
n = [10, 12, 14]
samples = 20
samples_per_task = 5
measures = ["vn", "renyi2", "renyi0.5", "inf"]
[experiment.hyper]
activation = ["tanh", "sin"]
mode = "real"
[experiment.subsystem]
kind = "window"
m = "1..n//2-2"
windows = 10

[[experiment]]
name = "dicke"
architecture = "dicke"
n = 8
samples = 3
samples_per_task = 2
measures = ["vn"]
[experiment.subsystem]
kind = "explicit"
sites = [[0, 1], [0, 2, 5], [3]]
"""

MINIMAL = """\
name = "t"
seed = 1
[[experiment]]
name = "a"
architecture = "sn"
n = [6, 8]
samples = 4
measures = ["vn"]
[experiment.hyper]
activation = ["tanh", "sin"]
[experiment.subsystem]
kind = "window"
m = "1..n//2"
windows = 2
"""


def test_full_example_round_trips():
    sweep = parse_spec(FULL, source="quick.toml")
    sn = Experiment(
        index=0,
        name="sn_real",
        architecture="sn",
        n=(10, 12, 14),
        samples=20,
        samples_per_task=5,
        measures=("vn", "renyi2", "renyi0.5", "inf"),
        hyper_axes=(("activation", ("tanh", "sin")),),
        hyper_fixed=(("mode", "real"),),
        subsystem=SubsystemSpec(kind="window", m="1..n//2-2", windows=10, sites=None),
    )
    dicke = Experiment(
        index=1,
        name="dicke",
        architecture="dicke",
        n=(8,),
        samples=3,
        samples_per_task=2,
        measures=("vn",),
        hyper_axes=(),
        hyper_fixed=(),
        subsystem=SubsystemSpec(
            kind="explicit", m=None, windows=None, sites=((0, 1), (0, 2, 5), (3,))
        ),
    )
    assert sweep.experiments == (sn, dicke)
    assert (sweep.name, sweep.seed, sweep.backend, sweep.dtype) == (
        "quickstart",
        1234,
        "auto",
        "complex64",
    )
    assert sweep.description == "SN networks and a Dicke reference"
    assert sweep.cluster == ClusterSpec((("partition", "debug"), ("cpus_per_task", 8)))
    assert sweep.text == FULL
    assert len(sweep.digest) == 64
    assert isinstance(sweep, Sweep)

    assert sn.subsystem.sizes(10) == (1, 2, 3)
    assert sn.subsystem.sizes(14) == (1, 2, 3, 4, 5)
    assert sn.all_sizes() == (1, 2, 3, 4, 5)
    assert sn.subsystem.n_windows == 10
    assert dicke.subsystem.sizes(8) == (1, 2, 3)
    assert dicke.subsystem.n_windows == 3
    assert dicke.all_sizes() == (1, 2, 3)

    # 3 n x 2 activations x 4 blocks, plus 1 n x 1 point x 2 blocks
    assert sn.n_tasks == 24
    assert dicke.n_tasks == 2
    assert sweep.n_tasks == 26
    assert sn.task_blocks() == [(0, 5), (5, 10), (10, 15), (15, 20)]
    assert dicke.task_blocks() == [(0, 2), (2, 3)]
    assert dicke.grid() == [((), get_architecture("dicke").hyper())]


def test_defaults():
    sweep = parse_spec(MINIMAL)
    (experiment,) = sweep.experiments
    assert (sweep.backend, sweep.dtype, sweep.description, sweep.cluster) == (
        "numpy",
        "complex128",
        "",
        ClusterSpec(),
    )
    assert experiment.samples_per_task == experiment.samples == 4
    assert experiment.task_blocks() == [(0, 4)]
    first = parse_spec(
        MINIMAL.replace('kind = "window"', 'kind = "first"').replace("windows = 2\n", "")
    )
    assert first.experiments[0].subsystem.windows == 1
    assert first.experiments[0].subsystem.n_windows == 1
    single = parse_spec(MINIMAL.replace('m = "1..n//2"', "m = 2"))
    assert single.experiments[0].subsystem.m == (2,)
    assert single.experiments[0].all_sizes() == (2,)


def test_grid_is_c_order_with_every_hyper_built():
    text = MINIMAL.replace(
        'activation = ["tanh", "sin"]',
        'activation = ["tanh", "sin", "cos"]\nmode = "general"\nweight_std = [0.5, 2]',
    )
    experiment = parse_spec(text).experiments[0]
    assert experiment.hyper_axes == (
        ("activation", ("tanh", "sin", "cos")),
        ("weight_std", (0.5, 2)),
    )
    assert experiment.hyper_fixed == (("mode", "general"),)
    grid = experiment.grid()
    assert [index for index, _ in grid] == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert [(h.activation, h.weight_std) for _, h in grid] == [
        ("tanh", 0.5),
        ("tanh", 2.0),
        ("sin", 0.5),
        ("sin", 2.0),
        ("cos", 0.5),
        ("cos", 2.0),
    ]
    assert all(h.mode == "general" and isinstance(h.weight_std, float) for _, h in grid)
    assert experiment.grid_shape == (3, 2)
    assert experiment.n_tasks == 2 * 6 * 1


def test_task_blocks_cover_samples_once():
    text = MINIMAL.replace("samples = 4", "samples = 7\nsamples_per_task = 3")
    experiment = parse_spec(text).experiments[0]
    assert experiment.task_blocks() == [(0, 3), (3, 6), (6, 7)]
    assert experiment.n_tasks == 2 * 2 * 3


@pytest.mark.parametrize(
    ("m", "n", "sizes"),
    [
        ("1..n//2-2", 10, (1, 2, 3)),
        ("1..n//2-2", 6, (1,)),
        ("n//2", 10, (5,)),
        ("2..(n-1)//2", 9, (2, 3, 4)),
        ("1 .. n - 1", 4, (1, 2, 3)),
        ("-1+n..n-1", 5, (4,)),
        ("n-2*2..n*1-+1", 7, (3, 4, 5, 6)),
    ],
)
def test_range_expressions(m, n, sizes):
    assert SubsystemSpec("first", m, 1, None).sizes(n) == sizes


@pytest.mark.parametrize(
    ("m", "expected"),
    [
        ("2..n/2", "use '//'"),  # '/' is refused even where it divides exactly
        ("1..n**2", "only + - * //"),
        ("1..k", "unknown name 'k'"),
        ("1..2.5", "only integer constants"),
        ("1..True", "only integer constants"),
        ("abs(n)", "not an integer expression"),
        ("1..", "both ends"),
        ("1..n..2", "one '..'"),
        ("1..n)", "not an expression"),
        ("__import__('os')", "not an integer expression"),
    ],
)
def test_range_expressions_refused(m, expected):
    with pytest.raises(ValueError) as info:
        SubsystemSpec("first", m, 1, None).sizes(10)
    assert expected in str(info.value)


def test_range_sizes_out_of_bounds():
    with pytest.raises(ValueError, match=r"empty for n = 4"):
        SubsystemSpec("window", "1..n//2-2", 1, None).sizes(4)
    with pytest.raises(ValueError, match=r"size 6 is not < n = 6"):
        SubsystemSpec("window", "1..n", 1, None).sizes(6)
    with pytest.raises(ValueError, match=r"size 0 is not >= 1"):
        SubsystemSpec("window", "0..2", 1, None).sizes(6)


def test_digest_ignores_layout_and_comments_but_not_values():
    base = parse_spec(MINIMAL)
    relaid = "# a comment\n\n" + MINIMAL.replace("seed = 1", "seed   =   1   # root seed").replace(
        "n = [6, 8]", "n = [\n  6,\n  8,  # two sizes\n]"
    )
    again = parse_spec(relaid)
    assert again.text != base.text
    assert again.digest == base.digest
    assert parse_spec(MINIMAL.replace("seed = 1", "seed = 2")).digest != base.digest
    assert parse_spec(MINIMAL.replace("samples = 4", "samples = 5")).digest != base.digest


def test_load_spec(tmp_path):
    path = tmp_path / "quick.toml"
    path.write_text(FULL, encoding="utf-8")
    sweep = load_spec(path)
    assert sweep.text == FULL
    assert sweep.digest == parse_spec(FULL).digest
    with pytest.raises(SpecError, match=r"missing\.toml"):
        load_spec(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text(FULL.replace("seed = 1234", "seed = -1"), encoding="utf-8")
    with pytest.raises(SpecError, match=r"bad\.toml: seed: "):
        load_spec(bad)


@dataclass(frozen=True)
class _PatchHyper:
    """A stand-in for a transformer's hyperparameters."""

    patch: int = 3
    """Patch length; must fit in n."""
    d: int = 8
    """Model dimension; a multiple of heads."""
    heads: int = 2
    """Attention heads."""

    def __post_init__(self) -> None:
        if self.d % self.heads:
            raise ValueError(f"d = {self.d} is not a multiple of heads = {self.heads}")


def _patch_check(n: int, hyper: _PatchHyper) -> None:
    if hyper.patch > n:
        raise ValueError(f"patch {hyper.patch} is longer than n = {n}")
    if n % hyper.patch:
        warnings.warn(f"patches leave sites uncovered for n = {n}", UserWarning, stacklevel=1)


@pytest.fixture
def patch_architecture(monkeypatch):
    architecture = Architecture(
        name="patchy",
        hyper_type=_PatchHyper,
        init=lambda rng, n, hyper: {},
        evaluate=lambda params, spins, hyper, xp: spins[:, 0],
        k=lambda n, hyper: 1,
        log_amplitude=True,
        check=_patch_check,
    )
    monkeypatch.setitem(REGISTRY, "patchy", architecture)
    return architecture


def _patchy(hyper: str, n: str = "[6, 12]") -> str:
    return (
        MINIMAL.replace('architecture = "sn"', 'architecture = "patchy"')
        .replace('activation = ["tanh", "sin"]', hyper)
        .replace("n = [6, 8]", f"n = {n}")
    )


def test_every_grid_point_is_checked_against_every_n(patch_architecture):
    ok = parse_spec(_patchy("patch = [2, 3]\nd = 30\nheads = [5, 3]", n="[6, 12]"))
    assert ok.experiments[0].grid_shape == (2, 2)
    with pytest.raises(SpecError) as info:
        parse_spec(_patchy("patch = [2, 7]"), source="p.toml")
    message = str(info.value)
    assert message.startswith("p.toml: experiment[0].n: n = 6 ")
    assert "patch=7" in message and "longer than n = 6" in message
    # a cross-field error is reported at the key whose value causes it
    with pytest.raises(SpecError, match=r"experiment\[0\]\.hyper\.d\[1\]: d = 9 is not"):
        parse_spec(_patchy("d = [8, 9]"))
    # ... and at the whole table when no single key causes it
    with pytest.raises(SpecError, match=r"experiment\[0\]\.hyper: invalid hyperparameters"):
        parse_spec(_patchy("d = 10\nheads = [5, 4]"))
    # warnings from the architecture pass through; they are not errors
    with pytest.warns(UserWarning, match="uncovered"):
        parse_spec(_patchy("patch = 4", n="[6, 8]"))


def _replace(text: str, replacements: list[tuple[str, str]]) -> str:
    for old, new in replacements:
        assert old in text, old
        text = text.replace(old, new)
    return text


_SECOND = """
[[experiment]]
name = "{}"
architecture = "sn"
n = 6
samples = 1
measures = ["vn"]
subsystem = {{kind = "first", m = 1}}
"""
_NO_HYPER = ('[experiment.hyper]\nactivation = ["tanh", "sin"]\n', "")
_EXPLICIT = ('kind = "window"\nm = "1..n//2"\nwindows = 2', 'kind = "explicit"\nsites = [[0, 1]]')

BAD = [
    # (replacements applied to MINIMAL, fragment the message must contain)
    ([("seed = 1", "seed = ")], "bad.toml: line 2, column 8: invalid TOML"),
    ([("seed = 1", "seed = 1\nseed = 2")], "line 3"),
    ([("seed = 1", "seed = 1\nsed = 2")], "sed: unknown key 'sed'; did you mean 'seed'?"),
    ([('name = "t"\n', "")], "bad.toml: name: missing required key"),
    ([('name = "t"', 'name = "a b"')], "name: 'a b' is not a valid name"),
    ([("seed = 1", "seed = true")], "seed: expected an integer, got a boolean"),
    ([("seed = 1", "seed = -1")], "seed: -1 is out of range"),
    ([("seed = 1", 'seed = 1\nbackend = "gpu"')], "backend: 'gpu' is not one of"),
    ([("seed = 1", 'seed = 1\ndtype = "complex256"')], "dtype: 'complex256' is not one of"),
    ([("seed = 1", "seed = 1\ncluster = 3")], "cluster: expected a table"),
    ([("seed = 1", "seed = 1\n[cluster]\ncores = 8")], "cluster: unknown key(s) 'cores'"),
    (
        [("seed = 1", 'seed = 1\n[cluster]\nmemory = "lots"')],
        "cluster: slurm option 'memory': 'lots' is not an integer with a unit",
    ),
    ([("[[experiment]]", "[experiment]")], "experiment: write each experiment as [[experiment]]"),
    ([("samples = 4", "samples = 4\nsampels = 2")], "experiment[0].sampels: unknown key"),
    ([("samples = 4\n", "")], "experiment[0].samples: missing required key"),
    ([("samples = 4", "samples = 0")], "experiment[0].samples: 0 is out of range"),
    ([("samples = 4", "samples = 4.0")], "experiment[0].samples: expected an integer, got a float"),
    ([("samples = 4", "samples = 4\nsamples_per_task = 5")], "experiment[0].samples_per_task: 5"),
    ([('"sn"', '"snn"')], "experiment[0].architecture: unknown architecture 'snn'; did you mean"),
    ([('name = "a"', 'name = "a.b"')], "experiment[0].name"),
    ([("n = [6, 8]", "n = [8, 6]")], "experiment[0].n[1]: 6 follows 8"),
    ([("n = [6, 8]", "n = [6, 6]")], "experiment[0].n[1]"),
    ([("n = [6, 8]", "n = [6, 40]")], "experiment[0].n[1]: 40 is out of range"),
    ([("n = [6, 8]", "n = 1")], "experiment[0].n: 1 is out of range"),
    ([("n = [6, 8]", 'n = "6"')], "experiment[0].n: expected an integer or a non-empty array"),
    ([("n = [6, 8]", "n = []")], "experiment[0].n"),
    ([("n = [6, 8]", "n = [6, true]")], "experiment[0].n[1]: expected an integer, got a boolean"),
    ([('measures = ["vn"]', "measures = []")], "experiment[0].measures: expected a non-empty"),
    ([('measures = ["vn"]', 'measures = "vn"')], "experiment[0].measures: expected a non-empty"),
    ([('["vn"]', '["vn", "vn"]')], "experiment[0].measures[1]: duplicate measure 'vn'"),
    ([('["vn"]', '["renyi1"]')], "experiment[0].measures[0]: measure 'renyi1'"),
    ([('["vn"]', '["vn", "renyi-2"]')], "experiment[0].measures[1]: unknown measure"),
    ([('["vn"]', '["renyiabc"]')], "experiment[0].measures[0]: unknown measure"),
    ([('["vn"]', '["renyi0"]')], "experiment[0].measures[0]: measure 'renyi0'"),
    (
        [('activation = ["tanh", "sin"]', 'activaton = "tanh"')],
        "hyper.activaton: unknown hyperparameter 'activaton' for architecture 'sn'; did you",
    ),
    ([('["tanh", "sin"]', '["tanh", "sine"]')], "experiment[0].hyper.activation[1]: unknown"),
    ([('["tanh", "sin"]', "[]")], "experiment[0].hyper.activation: empty array"),
    ([('["tanh", "sin"]', '["sin", "sin"]')], "experiment[0].hyper.activation[1]: duplicate"),
    ([('["tanh", "sin"]', '"tanh"\nweight_std = "big"')], "experiment[0].hyper.weight_std: "),
    ([('["tanh", "sin"]', '"tanh"\nweight_std = -1.0')], "experiment[0].hyper.weight_std: "),
    ([('["tanh", "sin"]', '"tanh"\nweight_std = true')], "experiment[0].hyper.weight_std: "),
    ([('["tanh", "sin"]', '"tanh"\nfan_in = 1')], "experiment[0].hyper.fan_in: "),
    ([('["tanh", "sin"]', '"tanh"\nmode = ["real", "imag"]')], "experiment[0].hyper.mode[1]: "),
    ([('"sn"', '"dicke"'), _NO_HYPER, ("n = [6, 8]", "n = [6, 7]")], "experiment[0].n: n = 7"),
    ([('"sn"', '"dicke"'), _NO_HYPER, ("n = [6, 8]", "n = [6, 8]\nhyper.x = 1")], ".hyper.x"),
    ([("[experiment.subsystem]\n", "[experiment.sub]\n")], "experiment[0].sub: unknown key"),
    ([("[experiment.subsystem]\n", "[experiment.subsystem]\nn = 3\n")], "subsystem.n: unknown"),
    ([("windows = 2", "window = 2")], "experiment[0].subsystem.window: unknown key"),
    ([('kind = "window"\n', "")], "experiment[0].subsystem.kind: missing required key"),
    ([('kind = "window"', 'kind = "windw"')], "experiment[0].subsystem.kind: 'windw' is not"),
    ([('m = "1..n//2"', "m = 7")], "experiment[0].subsystem.m: size 7 is not < n = 6"),
    ([('m = "1..n//2"', "m = [1, 0]")], "experiment[0].subsystem.m: size 0 is not >= 1"),
    ([('m = "1..n//2"', 'm = "1..n//2-3"')], "experiment[0].subsystem.m: '1..n//2-3' is empty"),
    ([('m = "1..n//2"', 'm = "2..n/2"')], "experiment[0].subsystem.m: '2..n/2': '/' is not"),
    ([('m = "1..n//2"', 'm = "1..n//0"')], "subsystem.m: '1..n//0': division by zero for n = 6"),
    ([('m = "1..n//2"', 'm = "1..n+1"')], "experiment[0].subsystem.m: '1..n+1' gives 1..7"),
    ([('m = "1..n//2"', "m = []")], "experiment[0].subsystem.m: expected an integer"),
    ([('m = "1..n//2"', "m = [1, 1]")], "experiment[0].subsystem.m[1]: duplicate size 1"),
    ([('m = "1..n//2"', "m = 1.5")], "experiment[0].subsystem.m: expected an integer"),
    ([('m = "1..n//2"\n', "")], "experiment[0].subsystem.m: missing required key"),
    ([("windows = 2", "windows = 0")], "experiment[0].subsystem.windows: 0 is out of range"),
    ([("windows = 2", "windows = true")], "experiment[0].subsystem.windows: expected an int"),
    ([('kind = "window"', 'kind = "first"')], "experiment[0].subsystem.windows: kind 'first'"),
    ([("windows = 2", "windows = 2\nsites = [[0]]")], "experiment[0].subsystem.sites: only"),
    ([_EXPLICIT, ("[[0, 1]]", "[[0, 1]]\nwindows = 1")], "experiment[0].subsystem.windows: not"),
    ([_EXPLICIT, ("sites = [[0, 1]]", "m = 2")], "experiment[0].subsystem.m: not allowed"),
    ([_EXPLICIT, ("sites = [[0, 1]]", "")], "experiment[0].subsystem.sites: missing"),
    (
        [_EXPLICIT, ("[[0, 1]]", "[[0, 1], [0, 6]]")],
        "subsystem.sites[1][1]: site 6 is not < min(n) = 6",
    ),
    ([_EXPLICIT, ("[[0, 1]]", "[[0, 0]]")], "experiment[0].subsystem.sites[0]: sites [0, 0]"),
    ([_EXPLICIT, ("[[0, 1]]", "[[]]")], "experiment[0].subsystem.sites[0]: expected a non-empty"),
    ([_EXPLICIT, ("[[0, 1]]", "[[0, 1, 2, 3, 4, 5]]")], "subsystem.sites[0]: size 6 is not <"),
    ([_EXPLICIT, ("[[0, 1]]", "[[0, 1], [1, 0]]")], "subsystem.sites[1]: sites [1, 0] repeat"),
    ([_EXPLICIT, ("[[0, 1]]", "[0, 1]")], "experiment[0].subsystem.sites[0]: expected"),
    ([("windows = 2\n", "windows = 2\n" + _SECOND.format("a"))], "experiment[1].name: 'a' rep"),
    ([("windows = 2\n", "windows = 2\n" + _SECOND.format("A"))], "experiment[1].name: 'A' rep"),
    ([("windows = 2\n", "windows = 2\n" + _SECOND.format("b") + "m = 9\n")], "experiment[1].m"),
]


@pytest.mark.parametrize(("replacements", "fragment"), BAD, ids=[f for _, f in BAD])
def test_malformed_specs(replacements, fragment):
    text = _replace(MINIMAL, replacements)
    with pytest.raises(SpecError) as info:
        parse_spec(text, source="bad.toml")
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert "\n" not in message and "\r" not in message
    assert message.startswith("bad.toml: ")
    assert fragment in message, message


def test_unknown_architecture_lists_choices():
    with pytest.raises(SpecError) as info:
        parse_spec(MINIMAL.replace('"sn"', '"nope"'))
    for name in REGISTRY:
        assert name in str(info.value)


def test_digest_ignores_cluster_table_and_description():
    base = 'name = "d"\nseed = 1\n'
    body = (
        '[[experiment]]\nname = "e"\narchitecture = "sn"\nn = 6\nsamples = 1\n'
        'measures = ["vn"]\n[experiment.subsystem]\nkind = "first"\nm = 1\n'
    )
    plain = parse_spec(base + body)
    dressed = parse_spec(base + 'description = "why"\n[cluster]\nwalltime = "02:00:00"\n' + body)
    assert plain.digest == dressed.digest
    assert parse_spec(base.replace("seed = 1", "seed = 2") + body).digest != plain.digest
