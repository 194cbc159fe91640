"""Schmidt spectra and entropies against oracles: analytic values (product, GHZ, Dicke,
Page, MPS bounds), an independent slow path (full SVD), another package (quimb), and the
conventions (basis order) that the numbers depend on. The subsystem samplers are tested
in tests/sweep/test_subsystems.py, the seeding of a sample in tests/sweep/test_sample.py.

Every numerical test runs on each array namespace of the ``xp`` fixture (conftest.py).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from helpers import host

from pipeline.architectures import get_architecture
from pipeline.architectures.states import basis_spins, full_state
from pipeline.numerics import spectra
from pipeline.numerics.entropy import entropies
from pipeline.numerics.measures import measure_order
from pipeline.numerics.references import dicke_entropy, page_entropy, page_entropy_qubits
from pipeline.numerics.spectra import nested_schmidt_probs, schmidt_probs, schmidt_probs_svd
from pipeline.numerics.xp import namespace
from pipeline.sweep.subsystems import sample_orders

MEASURES = ("vn", "renyi2", "renyi0.5", "inf")

EXACT = 1e-12
"""Analytic values (product 0, GHZ log 2, Dicke, MPS bound) and identities (S_A = S_B,
nested = direct) in double precision."""
PATHS = 1e-10
"""Two independent double-precision routes to the same spectrum (Gram vs SVD, ours vs
quimb): each carries eigensolver round-off of order eps * dim."""
STANDARD_ERRORS = 3.0
"""Ensemble means against Page's exact mean."""


def state(name: str, n: int, xp, seed: int = 0, dtype=None, **hyper):
    """The normalised full state of a registered architecture."""
    arch = get_architecture(name)
    h = arch.hyper(**hyper)
    arch.validate(n, h)
    params = arch.init(np.random.default_rng(seed), n, h)
    return full_state(arch, params, n, h, xp, dtype)


def random_state(rng: np.random.Generator, n: int, batch: tuple[int, ...] = ()) -> np.ndarray:
    """Haar-random state(s) ``(*batch, 2^n)`` from a complex Gaussian vector."""
    shape = (*batch, 1 << n)
    psi = rng.normal(size=shape) + 1j * rng.normal(size=shape)
    return psi / np.linalg.norm(psi, axis=-1, keepdims=True)


def random_subset(rng: np.random.Generator, n: int, m: int) -> tuple[int, ...]:
    """``m`` distinct sites in random (not sorted) order."""
    return tuple(int(s) for s in rng.permutation(n)[:m])


def measures_of(psi, n: int, subsystem, xp) -> np.ndarray:
    """All of ``MEASURES`` for one subsystem, on the host: shape ``(len(MEASURES), ...)``."""
    return host(entropies(schmidt_probs(psi, n, subsystem, xp), MEASURES, xp))


def proper_subsets(n: int):
    for m in range(1, n):
        yield from itertools.combinations(range(n), m)


# --- analytic states: product, GHZ -----------------------------------------------------


@pytest.mark.parametrize("n", [2, 5, 8])
def test_product_state_has_no_entanglement_on_any_subsystem(xp, n):
    psi = state("product", n, xp, seed=n)
    for subsystem in proper_subsets(n):
        np.testing.assert_allclose(measures_of(psi, n, subsystem, xp), 0.0, rtol=0, atol=EXACT)


def test_product_state_has_no_entanglement_on_random_subsystems_at_n12(xp):
    n, rng = 12, np.random.default_rng(12)
    psi = state("product", n, xp, seed=3)
    for _ in range(30):
        subsystem = random_subset(rng, n, int(rng.integers(1, n)))
        np.testing.assert_allclose(measures_of(psi, n, subsystem, xp), 0.0, rtol=0, atol=EXACT)


@pytest.mark.parametrize("n", range(2, 9))
def test_ghz_has_log2_on_every_proper_subsystem(xp, n):
    psi = state("ghz", n, xp)
    for subsystem in proper_subsets(n):
        np.testing.assert_allclose(
            measures_of(psi, n, subsystem, xp), math.log(2), rtol=0, atol=EXACT
        )


def test_ghz_has_log2_on_random_subsystems_at_n12(xp):
    n, rng = 12, np.random.default_rng(120)
    psi = state("ghz", n, xp)
    for _ in range(30):
        subsystem = random_subset(rng, n, int(rng.integers(1, n)))
        np.testing.assert_allclose(
            measures_of(psi, n, subsystem, xp), math.log(2), rtol=0, atol=EXACT
        )


# --- Dicke -------------------------------------------------------------------------------


def dicke_reference(n: int, m: int) -> np.ndarray:
    return np.array([dicke_entropy(n, m, alpha=measure_order(mu)) for mu in MEASURES])


@pytest.mark.parametrize("n", range(2, 17, 2))
def test_dicke_state_matches_hypergeometric_spectrum(xp, n):
    """First-m cuts and random subsets (the Dicke state is permutation invariant)."""
    psi = state("dicke", n, xp)
    rng = np.random.default_rng(n)
    for m in range(1, n):
        expected = dicke_reference(n, m)
        for subsystem in (tuple(range(m)), random_subset(rng, n, m)):
            np.testing.assert_allclose(
                measures_of(psi, n, subsystem, xp), expected, rtol=0, atol=EXACT
            )


# The n = 22 values of DESIGN.md, m = 2..10, to the 4 decimals given.
DICKE_22 = (1.0221, 1.2127, 1.3364, 1.4224, 1.4846, 1.5299, 1.5624, 1.5844, 1.5971)


def test_dicke_reference_reproduces_published_values_at_n22():
    for m, value in zip(range(2, 11), DICKE_22, strict=True):
        assert round(dicke_entropy(22, m), 4) == value, m


@pytest.mark.slow
def test_dicke_state_reproduces_published_values_at_n22():
    """The numerical n = 22 state (4M amplitudes), first-m cuts via the production path
    (one reduced density matrix at m = 10, partial traces for smaller m)."""
    xp, n = namespace("numpy"), 22
    psi = state("dicke", n, xp)
    probs = nested_schmidt_probs(psi, n, [tuple(range(n))], range(2, 11), xp)
    for m, value in zip(range(2, 11), DICKE_22, strict=True):
        s = float(host(entropies(probs[m], ("vn",), xp))[0, 0])
        assert abs(s - dicke_entropy(n, m)) <= EXACT, m
        assert round(s, 4) == value, m


@pytest.mark.parametrize("n", [64, 256, 1024, 2048])
def test_dicke_half_cut_approaches_gaussian_asymptote(n):
    """``S(n/2) -> (1/2) log(pi e n / 8)``: the half-cut spectrum is hypergeometric with
    variance ``n^2 / (16 (n - 1))``, whose Gaussian entropy ``(1/2) log(2 pi e var)`` is the
    asymptote up to the finite-population factor ``n / (n - 1)``, i.e. ``+1/(2n)``; the
    remaining (non-Gaussian) correction is ``O(1/n^2)`` (about ``1/(6 n^2)``). So we demand
    ``0 < S - asymptote < 1/n`` and ``|S - asymptote - 1/(2n)| < 1/n^2``."""
    difference = dicke_entropy(n, n // 2) - 0.5 * math.log(math.pi * math.e * n / 8)
    assert 0 < difference < 1 / n
    assert abs(difference - 1 / (2 * n)) < 1 / n**2


# --- Haar / Page -------------------------------------------------------------------------


def test_page_entropy_equals_harmonic_number_formula():
    """``S = sum_{k = d_B + 1}^{d_A d_B} 1/k - (d_A - 1) / (2 d_B)`` for ``d_A <= d_B``,
    summed exactly in rationals."""
    from fractions import Fraction

    for dim_a in range(1, 9):
        for dim_b in range(dim_a, 17):
            harmonic = sum(Fraction(1, k) for k in range(dim_b + 1, dim_a * dim_b + 1))
            exact = float(harmonic - Fraction(dim_a - 1, 2 * dim_b))
            assert abs(page_entropy(dim_a, dim_b) - exact) <= EXACT
            assert abs(page_entropy(dim_b, dim_a) - exact) <= EXACT
    assert page_entropy(1, 7) == 0.0
    assert page_entropy_qubits(10, 3) == page_entropy(8, 128)
    assert page_entropy_qubits(10, 7) == page_entropy(8, 128)


@pytest.mark.parametrize(("n", "samples"), [(10, 200), (7, 300)])
def test_haar_ensemble_matches_page_mean(xp, n, samples):
    """The ``haar`` architecture's states, batched, against Page's exact mean, within
    ``STANDARD_ERRORS`` standard errors, for first-m cuts and random subsets."""
    arch, rng = get_architecture("haar"), np.random.default_rng(n)
    hyper = arch.hyper()
    ensemble = xp.stack(
        [
            full_state(arch, arch.init(np.random.default_rng([n, s]), n, hyper), n, hyper, xp)
            for s in range(samples)
        ]
    )
    for m in range(1, n // 2 + 1):
        for subsystem in (tuple(range(m)), random_subset(rng, n, m)):
            values = host(entropies(schmidt_probs(ensemble, n, subsystem, xp), ("vn",), xp))[0]
            error = values.std(ddof=1) / math.sqrt(samples)
            assert abs(values.mean() - page_entropy_qubits(n, m)) < STANDARD_ERRORS * error, (
                m,
                subsystem,
            )


# --- random MPS ----------------------------------------------------------------------------


@pytest.mark.parametrize("chi", [1, 2, 3, 4])
def test_mps_entropy_bounded_by_log_bond_dimension(xp, chi):
    n = 9
    for seed in range(3):
        psi = state("mps", n, xp, seed=seed, chi=chi)
        values = np.stack([measures_of(psi, n, tuple(range(m)), xp) for m in range(1, n)])
        assert np.all(values <= math.log(chi) + EXACT), values.max()
        if chi == 1:
            np.testing.assert_allclose(values, 0.0, rtol=0, atol=EXACT)
        else:  # the state is entangled, so the bound is not met trivially
            assert values[:, 0].max() > 0.1


# --- independent paths -------------------------------------------------------------------


def subsystem_cases(n: int, rng: np.random.Generator) -> list[tuple[int, ...]]:
    """First sites, the last sites, a non-contiguous set in shuffled order, and sets larger
    than ``n/2``."""
    cases = [tuple(range(n // 2)), tuple(range(n - 1, n // 2, -1)), (n - 1, 0)]
    cases += [random_subset(rng, n, m) for m in (1, n // 2, n // 2 + 1, n - 2, n - 1)]
    return cases


@pytest.mark.parametrize("n", [5, 8, 11, 14])
def test_gram_path_equals_svd_path(xp, n):
    """n = 14 puts the half cut (128 x 128) on the BLAS herk / LAPACK route for NumPy."""
    rng = np.random.default_rng(n)
    psi = xp.asarray(random_state(rng, n))
    for subsystem in subsystem_cases(n, rng):
        gram = host(schmidt_probs(psi, n, subsystem, xp))
        svd = host(schmidt_probs_svd(psi, n, subsystem, xp))
        assert gram.shape == svd.shape == (1 << min(len(subsystem), n - len(subsystem)),)
        np.testing.assert_allclose(np.sort(gram), np.sort(svd), rtol=0, atol=PATHS)
        assert abs(gram.sum() - 1) <= PATHS


@pytest.mark.parametrize("n", [6, 9])
def test_gram_path_equals_svd_path_batched(xp, n):
    rng = np.random.default_rng(100 + n)
    batch = random_state(rng, n, (4,))
    psi = xp.asarray(batch)
    for subsystem in subsystem_cases(n, rng):
        gram = host(schmidt_probs(psi, n, subsystem, xp))
        svd = host(schmidt_probs_svd(psi, n, subsystem, xp))
        np.testing.assert_allclose(np.sort(gram), np.sort(svd), rtol=0, atol=PATHS)
        for b in range(batch.shape[0]):  # batching does not mix states
            single = host(schmidt_probs(xp.asarray(batch[b]), n, subsystem, xp))
            np.testing.assert_allclose(np.sort(gram[b]), np.sort(single), rtol=0, atol=PATHS)


@pytest.mark.parametrize("n", [6, 9, 10])
def test_von_neumann_matches_quimb(xp, n):
    """quimb's ``entropy_subsys`` is in bits (``log2``); ours in nats."""
    quimb = pytest.importorskip("quimb")
    rng = np.random.default_rng(200 + n)
    for _ in range(3):
        vector = random_state(rng, n)
        psi = xp.asarray(vector)
        for subsystem in subsystem_cases(n, rng):
            ours = measures_of(psi, n, subsystem, xp)[0]
            theirs = quimb.entropy_subsys(vector, [2] * n, sorted(subsystem)) * math.log(2)
            assert abs(ours - theirs) <= PATHS, subsystem


def test_quimb_site_order_is_ours():
    """A Bell pair on sites (0, 1) next to random single-site states: quimb and we both see
    ``log 2`` on site 0 and 0 on the last site, so site 0 is the most significant in both."""
    quimb = pytest.importorskip("quimb")
    xp, n, rng = namespace("numpy"), 5, np.random.default_rng(5)
    vector = np.array([1, 0, 0, 1], dtype=complex) / math.sqrt(2)
    for _ in range(n - 2):
        vector = np.kron(vector, random_state(rng, 1))
    for site, expected in ((0, math.log(2)), (1, math.log(2)), (n - 1, 0.0)):
        theirs = quimb.entropy_subsys(vector, [2] * n, [site]) * math.log(2)
        ours = measures_of(xp.asarray(vector), n, (site,), xp)[0]
        assert abs(theirs - expected) <= EXACT
        assert abs(ours - expected) <= EXACT


# --- nested windows --------------------------------------------------------------------


@pytest.mark.parametrize("stack_bytes", [spectra.STACK_BYTES, 1], ids=["stacked", "one-by-one"])
@pytest.mark.parametrize("kind", ["window", "random"])
@pytest.mark.parametrize(("n", "sizes"), [(8, range(1, 8)), (14, (1, 3, 6, 7, 8, 10, 13))])
def test_nested_spectra_equal_direct_spectra(xp, monkeypatch, kind, n, sizes, stack_bytes):
    """One reduced density matrix per ordering, partial traces for smaller sizes and the
    complement for sizes > n/2, against one direct spectrum per subsystem. n = 14 puts the
    7-site matrices on the herk / LAPACK route for NumPy."""
    monkeypatch.setattr(spectra, "STACK_BYTES", stack_bytes)
    rng = np.random.default_rng(n)
    psi = xp.asarray(random_state(rng, n))
    orders = sample_orders(kind, n, 3, rng)
    nested = nested_schmidt_probs(psi, n, orders.tolist(), sizes, xp)
    assert sorted(nested) == sorted(sizes)
    for m in sizes:
        probs = host(nested[m])
        assert probs.shape == (len(orders), 1 << min(m, n - m))
        for i, order in enumerate(orders):
            direct = host(schmidt_probs(psi, n, order[:m], xp))
            np.testing.assert_allclose(np.sort(probs[i]), np.sort(direct), rtol=0, atol=EXACT)


# --- the gathered Gram matrix (no permuted copy) ----------------------------------------


@pytest.mark.parametrize("gather_bytes", [spectra.GATHER_BYTES, 1 << 13], ids=["one", "many"])
@pytest.mark.parametrize(
    "order",
    [
        tuple(range(14)),
        tuple((3 + i) % 14 for i in range(14)),  # a window inside the chain
        tuple((11 + i) % 14 for i in range(14)),  # a window across the end
        tuple(np.random.default_rng(2).permutation(14)),
        tuple(range(13, -1, -1)),  # the complement's reversed order
    ],
    ids=["first", "window", "wrapping", "random", "reversed"],
)
def test_gathered_gram_equals_the_permuted_copy(monkeypatch, order, gather_bytes):
    """cut_gram sums herk over column blocks gathered from a strided view of psi (8 KiB:
    many blocks); against gram of the permuted matrix, to 1e-15 (the order of the sums
    differs), and the full matrix Hermitian."""
    monkeypatch.setattr(spectra, "GATHER_BYTES", gather_bytes)
    xp, n = namespace("numpy"), 14
    psi = xp.asarray(random_state(np.random.default_rng(7), n))
    for m in (7, 8):
        gathered = spectra.cut_gram(psi, n, order, m, xp)
        copied = spectra.gram(spectra.bipartition(psi, n, order, m, xp), xp)
        assert gathered.flags.f_contiguous
        np.testing.assert_allclose(gathered, copied, rtol=0, atol=1e-15)
        np.testing.assert_array_equal(gathered, gathered.conj().T)


def test_nested_spectra_on_the_herk_route_equal_the_svd_path(monkeypatch):
    """n = 16, every size of three windows and a random ordering through the gathered herk,
    the partial traces taken before LAPACK overwrites each matrix, against the SVD of the
    permuted matrix (the independent slow path), to 1e-14."""
    monkeypatch.setattr(spectra, "GATHER_BYTES", 1 << 14)
    xp, n = namespace("numpy"), 16
    rng = np.random.default_rng(16)
    psi = xp.asarray(random_state(rng, n))
    orders = [*sample_orders("window", n, 3, rng).tolist(), rng.permutation(n).tolist()]
    sizes = (3, 7, 8, 9, 12)
    nested = nested_schmidt_probs(psi, n, orders, sizes, xp)
    for m in sizes:
        for i, order in enumerate(orders):
            svd = np.sort(host(schmidt_probs_svd(psi, n, order[:m], xp)))
            np.testing.assert_allclose(np.sort(host(nested[m][i])), svd, rtol=0, atol=1e-14)


def test_a_half_cut_spectrum_holds_one_matrix_and_one_buffer(monkeypatch):
    """tracemalloc: the half cut of a cyclic window at n = 18 allocates the 2^9 x 2^9 matrix
    (as many entries as psi) and one gather buffer (256 KiB here), never a permuted copy of
    psi (4 MiB)."""
    import tracemalloc

    monkeypatch.setattr(spectra, "GATHER_BYTES", 1 << 18)

    xp, n = namespace("numpy"), 18
    psi = xp.asarray(random_state(np.random.default_rng(18), n))
    state = psi.nbytes
    order = [(5 + i) % n for i in range(n)]
    schmidt_probs(psi, n, order[: n // 2], xp)  # imports SciPy's BLAS and LAPACKE first
    tracemalloc.start()
    try:
        schmidt_probs(psi, n, order[: n // 2], xp)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= state + (1 << 18) + (1 << 19)


# --- S_A = S_B -------------------------------------------------------------------------


@pytest.mark.parametrize("n", [7, 10])
def test_subsystem_and_complement_have_equal_entropy(xp, n):
    """Gram route (which always uses the smaller side) and the SVD route (which keeps the
    given side as rows) for ``A`` and for its complement."""
    rng = np.random.default_rng(300 + n)
    psi = xp.asarray(random_state(rng, n))
    for m in range(1, n):
        subsystem = random_subset(rng, n, m)
        complement = tuple(s for s in range(n) if s not in subsystem)
        values = [
            host(entropies(path(psi, n, sites, xp), MEASURES, xp))
            for path in (schmidt_probs, schmidt_probs_svd)
            for sites in (subsystem, complement)
        ]
        for other in values[1:]:
            np.testing.assert_allclose(other, values[0], rtol=0, atol=EXACT)


# --- conventions: basis order ----------------------------------------------------------


def one_hot_product(n: int, up: set[int]) -> dict[str, np.ndarray]:
    """``product`` parameters with site ``i`` in ``|1>`` (spin up) iff ``i in up``."""
    sites = np.zeros((n, 2), dtype=complex)
    for i in range(n):
        sites[i, 1 if i in up else 0] = 1.0
    return {"sites": sites}


def test_site_zero_is_the_most_significant_bit(xp):
    n = 6
    arch = get_architecture("product")
    hyper = arch.hyper()
    for site in range(n):
        psi = host(full_state(arch, one_hot_product(n, {site}), n, hyper, xp))
        expected = np.zeros(1 << n)
        expected[1 << (n - 1 - site)] = 1.0
        np.testing.assert_array_equal(np.abs(psi), expected)
    spins = host(basis_spins(0, 1 << n, n, xp, xp.float64))
    assert spins[1 << (n - 1)].tolist() == [1.0] + [-1.0] * (n - 1)
    assert spins[1].tolist() == [-1.0] * (n - 1) + [1.0]


def test_reshape_axis_i_is_site_i(xp):
    """For a random product state ``psi.reshape((2,)*n)[b_0, ..., b_{n-1}] = prod v_i[b_i]``
    and ``bipartition`` of the identity ordering is ``psi.reshape(2^m, -1)``."""
    n = 5
    arch = get_architecture("product")
    hyper = arch.hyper()
    params = arch.init(np.random.default_rng(1), n, hyper)
    psi = full_state(arch, params, n, hyper, xp)
    tensor = host(psi).reshape((2,) * n)
    expected = params["sites"][0]
    for i in range(1, n):
        expected = np.multiply.outer(expected, params["sites"][i])
    np.testing.assert_allclose(tensor, expected, rtol=0, atol=EXACT)  # already unit norm
    for m in range(1, n):
        matrix = host(spectra.bipartition(psi, n, tuple(range(n)), m, xp))
        np.testing.assert_array_equal(matrix, host(psi).reshape(1 << m, -1))


@pytest.mark.parametrize(("m", "n", "terms"), [(3, 7, 2), (4, 8, 5), (5, 9, 40), (2, 6, 1)])
def test_product_spectra_equal_dense(xp, m, n, terms):
    """A sum of ``terms`` product states: its spectrum from ``K x K`` Gram matrices equals
    the dense one (the test oracle) within 1e-13, zeros beyond the rank included."""
    from pipeline.numerics.spectra import product_schmidt_probs

    rng = np.random.default_rng(m * n + terms)
    left = rng.normal(size=(2**m, terms)) + 1j * rng.normal(size=(2**m, terms))
    right = rng.normal(size=(2 ** (n - m), terms)) + 1j * rng.normal(size=(2 ** (n - m), terms))
    psi = (left @ right.T).reshape(-1)
    psi /= np.linalg.norm(psi)
    dense = np.sort(host(schmidt_probs(xp.asarray(psi), n, range(m), xp)))
    product = np.sort(host(product_schmidt_probs(xp.asarray(left), xp.asarray(right), xp)))
    rank = min(terms, 2**m, 2 ** (n - m))
    np.testing.assert_allclose(product[-rank:], dense[-rank:], rtol=0, atol=1e-13)
    assert np.all(product[:-rank] <= 1e-13) and np.all(dense[:-rank] <= 1e-13)


@pytest.mark.parametrize("name", ["numpy", "array_api_strict"])
def test_a_repeated_ordering_is_computed_once_with_the_same_bits(name, monkeypatch):
    """Window starts repeat (drawn with replacement): the spectra of a list with repeats
    are, row for row, exactly those of the distinct orderings, and the repeats cost no
    second reduced density matrix (sizes on both sides of the half cut)."""
    xp = namespace(name)
    n = 10
    rng = np.random.default_rng(7)
    psi = rng.normal(size=1 << n) + 1j * rng.normal(size=1 << n)
    psi = xp.asarray(psi / np.linalg.norm(psi))
    starts = [3, 0, 3, 7, 0, 3]
    orders = [tuple((start + i) % n for i in range(n)) for start in starts]
    distinct = list(dict.fromkeys(orders))
    calls = []
    one_side = spectra._nested_one_side

    def counted(psi, n, orders, sizes, xp):
        calls.append(len(orders))
        return one_side(psi, n, orders, sizes, xp)

    monkeypatch.setattr(spectra, "_nested_one_side", counted)
    sizes = [1, 4, 5, 7]
    got = nested_schmidt_probs(psi, n, orders, sizes, xp)
    assert calls == [3, 3]  # the distinct orderings, once on each side of the half cut
    once = nested_schmidt_probs(psi, n, distinct, sizes, xp)
    for m in sizes:
        expected = host(once[m])[[distinct.index(order) for order in orders]]
        assert np.array_equal(host(got[m]), expected)
