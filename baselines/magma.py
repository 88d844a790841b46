"""MAGMA: a genetic algorithm with MAGMA's encoding and operators, run every scheduling period.

Source: S.-C. Kao and T. Krishna, "MAGMA: An Optimization Framework for Mapping
Multiple DNNs on Multiple Accelerator Cores", HPCA 2022, and its public code
``maestro-project/magma`` (``src/scheuler_GA.py``, ``SchedulerGA.run``; commit
f25ef66). RELMAS (DAC 2024) section 5.1 uses it as baseline (4): "Our
implementation adopts the same custom genetic operators of the original work
... we used the same evaluation platform as RELMAS and adapted its fitness
function to take into account the SLA satisfaction rate", with "100 generations
of 100 individuals, for each scheduling period".

What follows MAGMA (operators in :mod:`baselines.ga_ops`, which cites each one):

* Encoding: per SJ an accelerator-selection gene (SA index) and a priority gene
  in [0, 1); on each SA the SJs run in ascending priority gene. The simulator's
  convention is "higher first", so the decision handed over is ``-gene``.
* Initial population: uniform random genes (``create_pop``), no heuristic
  seeding, for ``magma``. ``magma-seeded`` replaces individual 0 by EDF-H's
  decision (this toolkit's variant; ``LEARNING.md`` measured that it matters).
  ``magma-multiseed`` (``init="heuristics"``) replaces individuals 0-5 by the
  decisions of EDF-H and PREMA-H, each with three tie-breaks of the SA heuristic
  (:mod:`baselines.sa_heuristic`: index, affinity, fit with a 5% tolerance): the
  GA's fitness, a real simulation, picks what each gets right. An expert for
  RELMAS's imitation (``--set imitate=magma-multiseed``): under an h = 64 policy's
  decision-overhead charge it scores 0.802 on Light / QoS-Medium against
  magma-seeded's 0.676 (``scripts/probes/tie_break.py``).
* Generation loop (``SchedulerGA.run``): selection (sort by fitness, keep the
  best ``population``), parents = the best ``max(2, int(0.1 P))``, elites = the
  best ``max(1, int(0.05 P))``; then crossover-gen (rate 0.9), crossover-rg (0.1),
  crossover-accel (0.1), mutation (0.05) make ``P`` children from the parents;
  the elites are prepended unchanged (so the population holds ``P + E`` until the
  next selection) and the children are evaluated. Parents are drawn in distinct
  pairs with weights ``f - min f + 1`` (``sel_parents``).
* True gene exchanges as the paper describes (default); ``quirks=True``
  reproduces the public code's numpy-view behaviour (see :mod:`baselines.ga_ops`).

Adaptations:

* Per period, the genome covers the R SJs of the ready queue (MAGMA maps a fixed
  batch of independent layers offline). Layer dependencies, SJs running now,
  their residual work and deadline drops are all handled by the fitness, which
  simulates the decision out in the project's own event kernel
  (:func:`relmas.scheduler.simulate_out_batch`: exact finish times with DRAM
  bandwidth contention, same semantics as the simulator; one compiled call per
  generation). MAGMA's own fitness is minus the makespan of its bandwidth-sharing
  simulation without dependencies.
* Fitness (the RELMAS paper adapts it to the SLA): the number of queue jobs that
  meet their deadline when the queue is simulated out (no new arrivals or
  decisions; an SJ cannot start at or after its job's deadline, so the rest of a
  late job is dropped, as in the simulator), plus ``slack_weight`` (default 0.4,
  as in the probe of ``LEARNING.md``) times the mean over the queue's jobs of
  ``clip((deadline - finish) / budget, -1, 1)``, a dropped job counting -1. The
  tie-breaker matters: a queue of ~100 SJs holds only a handful of jobs, so
  hits alone leave the search flat. ``slack_weight=0`` gives the pure hit count.
* Generation 0 is evaluated before the first selection (the public code selects
  on unevaluated fitness at first, i.e. at random, and so also uses all P
  individuals as parents in generation 0; here every generation uses the best
  10%).
* Defaults: 100 generations x 100 individuals (``generations``, ``population``);
  MAGMA's own code defaults to 1000 x 100, and its ``main_ga.py`` overrides them.
* The answer is the best individual ever evaluated (elitism keeps it in the
  population), so the best fitness never decreases across generations.

Deterministic given the seed passed to :meth:`Magma.reset` (numpy PCG64).
"""
from __future__ import annotations

import inspect

from dataclasses import dataclass
from typing import Any, Literal, Sequence

import numpy as np

from baselines import ga_ops
from baselines.edf import EDFH
from baselines.prema import PremaH
from relmas.scheduler import ReadyQueue, Scheduler, simulate_out_batch
from relmas.typed_params import checked_params

__all__ = ["Magma", "MagmaMultiSeed", "MagmaSeeded", "MagmaResult", "SEED_HEURISTICS", "magma_fitness",
           "priority_to_order"]

SEED_HEURISTICS: tuple[tuple[type[Scheduler], dict[str, Any]], ...] = (
    (EDFH, {}), (PremaH, {}), (EDFH, {"tie_break": "affinity"}), (PremaH, {"tie_break": "affinity"}),
    (EDFH, {"tie_break": "fit", "tie_tolerance": 0.05}), (PremaH, {"tie_break": "fit", "tie_tolerance": 0.05}))
"""The heuristics whose decisions open ``init="heuristics"``'s population (class, keyword arguments).

Classes, not registry names, so that a plugin registering its own ``edf-h`` cannot
change what ``magma-multiseed`` starts from."""


def magma_fitness(rq: ReadyQueue, priority: np.ndarray, sa: np.ndarray, slack_weight: float = 0.4
                  ) -> tuple[np.ndarray, np.ndarray]:
    """SLA fitness of P candidate decisions of ``rq``, simulated out by the project's kernel.

    Args:
        rq: the ready queue.
        priority: float64 [P, R], higher first.
        sa: int64 [P, R].
        slack_weight: weight of the mean normalised slack tie-breaker.

    Returns:
        ``(fitness, hits)``: float64 [P] = hits + slack_weight * mean_j clip((d_j - f_j) / q_j, -1, 1)
        (dropped job: -1), and int64 [P] jobs of the queue meeting their deadline.
    """
    res = simulate_out_batch(rq, priority, sa, drop=True)
    d = rq.job_deadline
    budget = np.maximum(d - rq.job_arrival, 1e-9)
    with np.errstate(invalid="ignore"):
        slack = (d[None, :] - res.job_finish) / budget[None, :]
    slack = np.where(np.isnan(slack), -1.0, np.clip(slack, -1.0, 1.0))
    fit = res.hits.astype(np.float64)
    if slack_weight:
        fit = fit + slack_weight * slack.mean(axis=1)
    return fit, res.hits


def priority_to_order(priority: np.ndarray) -> np.ndarray:
    """MAGMA order genes (ascending = first) equivalent to ``priority`` (higher first, ties by index).

    The SJ ranked k-th gets ``k / R``, so decoding with ``-gene`` gives the same order.
    """
    R = priority.shape[0]
    order = np.argsort(-np.asarray(priority, np.float64), kind="stable")
    gene = np.empty(R)
    gene[order] = np.arange(R) / max(R, 1)
    return gene


@dataclass
class MagmaResult:
    """Outcome of one MAGMA search.

    Attributes:
        priority: float64 [R], the best individual's decision (``-order gene``).
        sa: int64 [R], the best individual's SAs.
        fitness: its fitness.
        hits: its queue jobs meeting their deadline.
        history: float64 [G + 1], best fitness after generation 0 (initial population) .. G.
        evaluations: number of fitness evaluations.
    """

    priority: np.ndarray
    sa: np.ndarray
    fitness: float
    hits: int
    history: np.ndarray
    evaluations: int


@checked_params
class Magma(Scheduler):
    """MAGMA (Kao and Krishna, HPCA 2022) per scheduling period, SLA fitness from the project's kernel.

    Args:
        generations: generations per period (G).
        population: individuals per generation (P, at least 2).
        elite_ratio: elites = ``max(1, int(elite_ratio * P))``.
        parent_ratio: parents = ``max(2, int(parent_ratio * P))``.
        crossover_rate: crossover-gen probability per child pair (MAGMA: 0.9).
        range_crossover_rate: crossover-rg probability per child pair (MAGMA: 0.1).
        accel_crossover_rate: crossover-accel probability per child (MAGMA: 0.1).
        mutation_rate: per-gene mutation probability (MAGMA: 0.05).
        slack_weight: weight of the slack tie-breaker in the fitness.
        init: ``"random"`` (MAGMA), ``"edf"`` (individual 0 = EDF-H's decision) or ``"heuristics"``
            (the first individuals = the decisions of :data:`SEED_HEURISTICS`).
        quirks: reproduce the public code's non-swapping crossovers.
        seed: default seed, used when :meth:`reset` is called without one.
    """

    name = "magma"

    def __init__(self, generations: int = 100, population: int = 100, elite_ratio: float = 0.05,
                 parent_ratio: float = 0.1, crossover_rate: float = 0.9, range_crossover_rate: float = 0.1,
                 accel_crossover_rate: float = 0.1, mutation_rate: float = 0.05, slack_weight: float = 0.4,
                 init: Literal["random", "edf", "heuristics"] = "random", quirks: bool = False,
                 seed: int | None = 0):
        if generations < 0:
            raise ValueError("generations must be >= 0")
        if population < 2:
            raise ValueError("population must be >= 2")
        if init not in ("random", "edf", "heuristics"):
            raise ValueError(f"init must be 'random', 'edf' or 'heuristics', got {init!r}")
        if init == "heuristics" and population < len(SEED_HEURISTICS):
            raise ValueError(f"{self.name}: init='heuristics' needs population >= {len(SEED_HEURISTICS)}, "
                             f"got {population}")
        for nm, v in (("crossover_rate", crossover_rate), ("range_crossover_rate", range_crossover_rate),
                      ("accel_crossover_rate", accel_crossover_rate), ("mutation_rate", mutation_rate),
                      ("elite_ratio", elite_ratio), ("parent_ratio", parent_ratio)):
            if not 0.0 <= v <= 1.0:
                raise ValueError(f"{nm} must lie in [0, 1]")
        self.generations = int(generations)
        self.population = int(population)
        self.num_elite = min(max(1, int(elite_ratio * population)), population)
        self.num_parent = min(max(2, int(parent_ratio * population)), population)
        self.crossover_rate = float(crossover_rate)
        self.range_crossover_rate = float(range_crossover_rate)
        self.accel_crossover_rate = float(accel_crossover_rate)
        self.mutation_rate = float(mutation_rate)
        self.slack_weight = float(slack_weight)
        self.init = init
        self.quirks = bool(quirks)
        self._default_seed = seed
        self._edf = EDFH()
        # stateful heuristics (PREMA-H keeps per-job estimates) live as long as the scheduler
        self._seeders = [cls(**kw) for cls, kw in SEED_HEURISTICS] if init == "heuristics" else []
        self.last: MagmaResult | None = None
        self.reset(seed)

    def label_fingerprint(self) -> Any:
        """With ``init="heuristics"``, the seeding heuristics (class names and arguments), which are not
        among the arguments; else None."""
        return [[cls.__name__, dict(kw)] for cls, kw in SEED_HEURISTICS] if self.init == "heuristics" else None

    @property
    def free_slots(self) -> int:
        """Individuals of the initial population left random after the seeded ones: how many
        ``extra`` decisions :meth:`search` can take."""
        return self.population - (self.init == "edf") - len(self._seeders)

    def reset(self, seed: int | None = None) -> None:
        """Reseed the GA's random stream (numpy PCG64) and reset the seeding heuristics.

        The seeders are reset with the same seed, so PREMA-H (``init="heuristics"``) forgets its
        per-job isolated-latency estimates: the same instance reset and run again decides the same.
        """
        if seed is None:
            seed = self._default_seed
        self._rng = np.random.default_rng(seed)
        for h in getattr(self, "_seeders", []):
            h.reset(seed)

    def _initial(self, rq: ReadyQueue, extra: Sequence[tuple[np.ndarray, np.ndarray]] = ()
                 ) -> tuple[np.ndarray, np.ndarray]:
        sa, order = ga_ops.random_population(self._rng, self.population, rq.size, rq.num_sas)
        if len(extra) > self.free_slots:
            raise ValueError(f"{self.name}: {len(extra)} extra individuals do not fit a population of "
                             f"{self.population} after {self.population - self.free_slots} seeded ones")
        k = 0
        if self.init == "edf":
            prio, esa = self._edf.schedule(rq)
            sa[0] = esa
            order[0] = priority_to_order(prio)
            k = 1
        for h in self._seeders:
            prio, hsa = h.schedule(rq)
            sa[k] = hsa
            order[k] = priority_to_order(prio)
            k += 1
        for prio, esa in extra:
            sa[k] = np.asarray(esa, dtype=sa.dtype)
            order[k] = priority_to_order(prio)
            k += 1
        return sa, order

    def search(self, rq: ReadyQueue, extra: Sequence[tuple[np.ndarray, np.ndarray]] = ()) -> MagmaResult:
        """Run the GA on one ready queue and return the best decision found.

        Args:
            rq: the ready queue.
            extra: further decisions ``(priority, sa)`` placed in the initial population after the
                seeded ones (e.g. a learner's own decision, for expert-iteration labels).
        """
        rng = self._rng
        M = rq.num_sas
        P = self.population
        sa, order = self._initial(rq, extra)
        fit, hits = magma_fitness(rq, -order, sa, self.slack_weight)
        evals = P
        history = np.empty(self.generations + 1)
        history[0] = fit.max()
        for g in range(self.generations):
            idx = np.argsort(-fit, kind="stable")[:P]
            sa, order, fit, hits = sa[idx], order[idx], fit[idx], hits[idx]
            psa, pord = sa[:self.num_parent], order[:self.num_parent]
            w = ga_ops.parent_weights(fit[:self.num_parent])
            csa, cord = ga_ops.crossover_gen(rng, psa, pord, w, P, self.crossover_rate, self.quirks)
            ga_ops.crossover_rg(rng, psa, pord, w, csa, cord, self.range_crossover_rate, self.quirks)
            ga_ops.crossover_acc(rng, psa, pord, w, csa, cord, M, self.accel_crossover_rate, self.quirks)
            ga_ops.mutate(rng, csa, cord, M, self.mutation_rate)
            cfit, chits = magma_fitness(rq, -cord, csa, self.slack_weight)
            evals += P
            E = self.num_elite
            sa = np.concatenate((sa[:E], csa))
            order = np.concatenate((order[:E], cord))
            fit = np.concatenate((fit[:E], cfit))
            hits = np.concatenate((hits[:E], chits))
            history[g + 1] = fit.max()
        b = int(np.argmax(fit))
        return MagmaResult(priority=-order[b].copy(), sa=sa[b].copy(), fitness=float(fit[b]), hits=int(hits[b]),
                           history=history, evaluations=evals)

    def schedule(self, rq: ReadyQueue) -> tuple[np.ndarray, np.ndarray]:
        """The best decision of one GA run on ``rq`` (kept in :attr:`last`)."""
        self.last = self.search(rq)
        return self.last.priority, self.last.sa


class MagmaMultiSeed(Magma):
    """MAGMA whose initial population holds the decisions of :data:`SEED_HEURISTICS` (``magma-multiseed``)."""

    name = "magma-multiseed"

    def __init__(self, **kwargs: Any):
        """Same arguments as :class:`Magma`; ``init`` defaults to ``"heuristics"``."""
        kwargs.setdefault("init", "heuristics")
        super().__init__(**kwargs)


class MagmaSeeded(Magma):
    """MAGMA whose initial population holds EDF-H's decision as individual 0 (``magma-seeded``)."""

    name = "magma-seeded"

    def __init__(self, **kwargs: Any):
        """Same arguments as :class:`Magma`; ``init`` defaults to ``"edf"``."""
        kwargs.setdefault("init", "edf")
        super().__init__(**kwargs)


def _signature_with_init(cls: type, init: str) -> None:
    """Give ``cls.__init__`` (``**kwargs``, forwarded to Magma) Magma's signature with its ``init`` default, so
    that callers that check arguments against the signature (the CLI's ``--param`` check) see the real ones."""
    sig = inspect.signature(Magma.__init__)
    cls.__init__.__signature__ = sig.replace(
        parameters=[q.replace(default=init) if q.name == "init" else q for q in sig.parameters.values()])


_signature_with_init(MagmaMultiSeed, "heuristics")
_signature_with_init(MagmaSeeded, "edf")
