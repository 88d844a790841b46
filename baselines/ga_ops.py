"""MAGMA's genetic operators, vectorised over the population with numpy.

Source: S.-C. Kao and T. Krishna, "MAGMA: An Optimization Framework for Mapping
Multiple DNNs on Multiple Accelerator Cores", HPCA 2022, and its public code
``maestro-project/magma`` (``src/scheuler_GA.py``, class ``SchedulerGA``, at
commit f25ef66). The code was read for the algorithm; nothing is copied.

Encoding (MAGMA section on the encoding; ``create_pop`` in the code): one
individual holds, for each of the R sub-jobs (SJs) of the ready queue, an
*accelerator-selection gene* (an integer SA index in [0, M)) and a
*priority/order gene* (a float in [0, 1)). Here a population is two arrays,
``sa`` int64 [P, R] and ``order`` float64 [P, R]; the MAGMA code stacks them as a
2 x R genome per individual. Decoding follows ``sorting_corejob``: on every SA,
the SJs assigned to it run in *ascending* order gene (smaller runs first).

Operators and where each follows MAGMA:

* :func:`crossover_gen` -- "crossover-gen", crossover *within one genome*
  (``SchedulerGA.crossover``): per pair of children, with probability ``rate``,
  pick one of the two genomes (50/50) and a cut point ``p`` uniform in [0, R-1];
  if ``p < R // 2`` the prefix ``[:p]`` of that genome is exchanged between the two
  children, otherwise the suffix ``[p:]``; otherwise the children are copies of
  their parents.
* :func:`crossover_rg` -- "crossover-rg", range crossover
  (``SchedulerGA.crossover_rg``): per pair slot, with probability ``rate``, a cut
  point ``p`` and the range ``[:p]`` of *both* genomes moves together, so an SJ
  keeps its SA and its priority as one unit.
* :func:`crossover_acc` -- "crossover-accel", accelerator-aware crossover
  (``SchedulerGA.crossover_acc``): per child, with probability ``rate``, pick one
  accelerator ``a``; the child is the dad with the mom's whole job set and
  ordering on ``a`` (her SJs on ``a`` with both genes); the dad's SJs on ``a`` that
  the mom placed elsewhere are re-assigned to another accelerator at random.
* :func:`mutate` (``SchedulerGA.mutate``): every gene independently with
  probability ``rate``; an SA gene gets a new uniform SA, an order gene a new
  uniform [0, 1) value.
* Parents are drawn in pairs of two distinct individuals with the weights of
  ``SchedulerGA.sel_parents`` (:func:`parent_weights`): ``w_i = f_i - min f + 1``,
  normalised, over the parents.

The public code assigns numpy *views* where it means to swap, so its crossovers
do not exchange genes as the paper describes (BASELINES.md section 1): in
crossover-gen only the first child receives the second parent's segment and the
second child stays a copy of its parent; in crossover-rg both children come out
identical (second parent's prefix + first parent's suffix); and crossover-accel
keeps the dad's priority gene for SJs both parents put on ``a`` and may redraw
``a`` itself for the dad's orphaned SJs. ``quirks=False`` (the default) performs
the exchanges as described; ``quirks=True`` reproduces the code's behaviour.

The operators run in numba (one compiled call per operator and generation). Each
takes a numpy ``Generator`` and draws one 63-bit seed from it for numba's own
random stream, so results are deterministic given the generator's state.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "random_population",
    "parent_weights",
    "draw_pairs",
    "crossover_gen",
    "crossover_rg",
    "crossover_acc",
    "mutate",
]


def random_population(rng: np.random.Generator, pop: int, r: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """MAGMA's random initial population (``create_pop``): uniform SA genes, uniform [0, 1) order genes."""
    sa = rng.integers(0, m, size=(pop, r), dtype=np.int64)
    order = rng.random((pop, r))
    return sa, order


def parent_weights(fitness: np.ndarray) -> np.ndarray:
    """Parent-sampling weights of ``sel_parents``: ``f - min(f) + 1``, normalised (fitness: higher is better)."""
    f = np.asarray(fitness, dtype=np.float64)
    w = f - f.min() + 1.0
    return w / w.sum()


def _seed_from(rng: np.random.Generator) -> int:
    return int(rng.integers(0, 2**63 - 1))


# --------------------------------------------------------------------------- numba kernels


@njit(cache=True)
def _pair(w):
    """Two distinct indices drawn by weights ``w`` (the second with the first removed)."""
    n = w.shape[0]
    total = 0.0
    for j in range(n):
        total += w[j]
    u = np.random.random() * total
    a = n - 1
    acc = 0.0
    for j in range(n):
        acc += w[j]
        if u < acc:
            a = j
            break
    rest = total - w[a]
    b = -1
    if rest > 0.0:
        u = np.random.random() * rest
        acc = 0.0
        for j in range(n):
            if j == a:
                continue
            acc += w[j]
            b = j
            if u < acc:
                break
    if b < 0:  # every other weight is zero: take a neighbour
        b = a + 1 if a + 1 < n else a - 1
    return a, b


@njit(cache=True)
def _draw_pairs(w, k, seed):
    np.random.seed(seed)
    a = np.empty(k, np.int64)
    b = np.empty(k, np.int64)
    for i in range(k):
        a[i], b[i] = _pair(w)
    return a, b


@njit(cache=True)
def _crossover_gen(psa, pord, w, n, rate, quirks, seed):
    np.random.seed(seed)
    r = psa.shape[1]
    csa = np.empty((n, r), np.int64)
    cord = np.empty((n, r))
    for k in range(0, n, 2):
        d, m = _pair(w)
        two = k + 1 < n
        csa[k] = psa[d]
        cord[k] = pord[d]
        if two:
            csa[k + 1] = psa[m]
            cord[k + 1] = pord[m]
        if np.random.random() < rate:
            row = 0 if np.random.random() < 0.5 else 1
            p = np.random.randint(0, max(r, 1))
            lo, hi = (0, p) if p < r // 2 else (p, r)
            for c in range(lo, hi):
                if row == 0:
                    csa[k, c] = psa[m, c]
                    if two and not quirks:
                        csa[k + 1, c] = psa[d, c]
                else:
                    cord[k, c] = pord[m, c]
                    if two and not quirks:
                        cord[k + 1, c] = pord[d, c]
    return csa, cord


@njit(cache=True)
def _crossover_rg(psa, pord, w, csa, cord, rate, quirks, seed):
    np.random.seed(seed)
    n, r = csa.shape
    for k in range(0, n, 2):
        d, m = _pair(w)
        do = np.random.random() < rate
        p = np.random.randint(0, max(r, 1))
        if not do:
            continue
        for c in range(r):
            if c < p:
                csa[k, c] = psa[m, c]
                cord[k, c] = pord[m, c]
            else:
                csa[k, c] = psa[d, c]
                cord[k, c] = pord[d, c]
        if k + 1 < n:
            if quirks:
                csa[k + 1] = csa[k]
                cord[k + 1] = cord[k]
            else:
                for c in range(r):
                    if c < p:
                        csa[k + 1, c] = psa[d, c]
                        cord[k + 1, c] = pord[d, c]
                    else:
                        csa[k + 1, c] = psa[m, c]
                        cord[k + 1, c] = pord[m, c]


@njit(cache=True)
def _crossover_acc(psa, pord, w, csa, cord, n_acc, rate, quirks, seed):
    np.random.seed(seed)
    n, r = csa.shape
    for i in range(n):
        d, m = _pair(w)
        do = np.random.random() < rate
        a = np.random.randint(0, n_acc)
        if not do:
            continue
        for c in range(r):
            mon = psa[m, c] == a
            don = psa[d, c] == a
            if mon and not (quirks and don):
                csa[i, c] = psa[m, c]
                cord[i, c] = pord[m, c]
            elif don and not mon:
                if quirks or n_acc == 1:
                    x = np.random.randint(0, n_acc)
                else:
                    x = np.random.randint(0, n_acc - 1)
                    if x >= a:
                        x += 1
                csa[i, c] = x
                cord[i, c] = pord[d, c]
            else:
                csa[i, c] = psa[d, c]
                cord[i, c] = pord[d, c]


@njit(cache=True)
def _mutate(csa, cord, n_acc, rate, seed):
    np.random.seed(seed)
    n, r = csa.shape
    for i in range(n):
        for c in range(r):
            if np.random.random() < rate:
                csa[i, c] = np.random.randint(0, n_acc)
        for c in range(r):
            if np.random.random() < rate:
                cord[i, c] = np.random.random()


# --------------------------------------------------------------------------- public operators


def _check_parents(psa: np.ndarray, pord: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, ...]:
    psa = np.ascontiguousarray(psa, np.int64)
    pord = np.ascontiguousarray(pord, np.float64)
    weights = np.ascontiguousarray(weights, np.float64)
    if psa.shape != pord.shape or psa.ndim != 2 or weights.shape != (psa.shape[0],):
        raise ValueError("parents must be two [n, R] arrays with one weight per parent")
    if psa.shape[0] < 2:
        raise ValueError("need at least two parents")
    return psa, pord, weights


def draw_pairs(rng: np.random.Generator, weights: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``k`` pairs of distinct parent indices, each pair drawn by ``weights`` without replacement.

    Same distribution as ``numpy.random.choice(n, 2, p=weights, replace=False)`` per
    pair (the first index by ``weights``, the second by ``weights`` with the first removed).
    """
    weights = np.ascontiguousarray(weights, np.float64)
    if weights.shape[0] < 2:
        raise ValueError("need at least two parents")
    return _draw_pairs(weights, int(k), _seed_from(rng))


def crossover_gen(rng: np.random.Generator, psa: np.ndarray, pord: np.ndarray, weights: np.ndarray, n: int,
                  rate: float = 0.9, quirks: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``n`` children by MAGMA's crossover-gen (within one genome) from the parents ``(psa, pord)``.

    Children are made in pairs from two weighted parents (dad, mom). With
    probability ``rate`` one genome (SA or order, 50/50) gets a cut point ``p`` in
    [0, R-1]: below ``R // 2`` the prefix ``[:p]`` is exchanged, otherwise the
    suffix ``[p:]``. With ``quirks`` only the first child receives the mom's
    segment; the second stays a copy of the mom (the public code's behaviour).
    """
    psa, pord, weights = _check_parents(psa, pord, weights)
    return _crossover_gen(psa, pord, weights, int(n), float(rate), bool(quirks), _seed_from(rng))


def crossover_rg(rng: np.random.Generator, psa: np.ndarray, pord: np.ndarray, weights: np.ndarray,
                 csa: np.ndarray, cord: np.ndarray, rate: float = 0.1, quirks: bool = False) -> None:
    """MAGMA's range crossover, in place on the children ``(csa, cord)`` (C-contiguous int64 / float64).

    Per pair slot ``(2k, 2k+1)``, with probability ``rate``: two weighted parents
    (dad, mom) and a cut point ``p`` in [0, R-1]; both genomes of the SJ range
    ``[:p]`` move together. Child ``2k`` = mom's ``[:p]`` + dad's ``[p:]``, child
    ``2k+1`` = dad's ``[:p]`` + mom's ``[p:]``; with ``quirks`` both children are the
    first of these (the public code's behaviour). The slots are overwritten, as in
    the code.
    """
    psa, pord, weights = _check_parents(psa, pord, weights)
    _crossover_rg(psa, pord, weights, csa, cord, float(rate), bool(quirks), _seed_from(rng))


def crossover_acc(rng: np.random.Generator, psa: np.ndarray, pord: np.ndarray, weights: np.ndarray,
                  csa: np.ndarray, cord: np.ndarray, m: int, rate: float = 0.1, quirks: bool = False) -> None:
    """MAGMA's accelerator-aware crossover (crossover-accel), in place on the children.

    Per child, with probability ``rate``: two weighted parents (dad, mom) and an
    accelerator ``a``. The child is the dad, except that every SJ the mom put on
    ``a`` takes the mom's SA and order genes (so the child runs the mom's job set
    in the mom's order on ``a``), and every SJ the dad put on ``a`` but the mom did
    not goes to another SA drawn uniformly. With ``quirks``, SJs both parents put
    on ``a`` keep the dad's order gene and the orphaned SJs draw from all M SAs,
    ``a`` included (the public code's behaviour). The slot is overwritten.
    """
    psa, pord, weights = _check_parents(psa, pord, weights)
    _crossover_acc(psa, pord, weights, csa, cord, int(m), float(rate), bool(quirks), _seed_from(rng))


def mutate(rng: np.random.Generator, csa: np.ndarray, cord: np.ndarray, m: int, rate: float = 0.05) -> None:
    """MAGMA's mutation, in place: each gene with probability ``rate`` is redrawn uniformly."""
    _mutate(csa, cord, int(m), float(rate), _seed_from(rng))
