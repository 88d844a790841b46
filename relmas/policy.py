"""The RELMAS policy: ready-queue encoding, LSTM actor and critic, MAC count, scheduler.

Paper section 4.1 (SPEC section 5). At every scheduling invocation the ready
queue (RQ) is sorted by absolute deadline and fed to an LSTM one sub-job (SJ) per
time step, after a *primer* step whose features are all zero except the M
"latency" slots, which hold the cycles until each SA is free. Each SJ is
encoded by F = 4 + 2M features::

    [model id, layer id, deadline, waiting time, c_1..c_M, b_1..b_M]

and the actor emits G = 1 + M values in [-1, 1] per SJ (the primer's output is
discarded): a priority, then one score u_m per SA; the SJ goes to argmax u_m.

Normalisation (every feature is dimensionless and O(1), so that one trained
policy transfers across periods, bandwidths and workloads):

* model id -> (id + 1) / number of models, in (0, 1]; layer id -> (index + 1) /
  layers of its model, in (0, 1] (the fraction of the model done once this
  layer ends). Both are > 0 so that the primer's zeros stay distinguishable.
* deadline -> slog((d_j - now) / T_s), the time left to the job's deadline;
  waiting time -> slog((now - a_j) / T_s). Absolute times are meaningless to a
  policy that runs forever, so times are relative to ``now``.
* latencies c_m and the primer's cycles-until-free -> slog(cycles / T_s), in the
  same unit as the deadline, so that "time left" and "work to do" compare.
* bandwidths b_m -> slog(b_m / B), the fraction of the shared DRAM the SJ takes
  alone (> 1: it saturates the DRAM by itself). Tying it to B is what lets the
  policy see contention change in the bandwidth sweep (paper Fig. 4).

where slog(x) = sign(x) log(1 + |x|) is linear near 0 (a layer shorter than a
period keeps its resolution) and compresses the tail (deadlines tens of periods
away, heavy layers of millions of cycles) so that the LSTM gates do not
saturate. The unit T_s and B come from the ready queue itself.

Decoding: the SA is argmax u_m (first index on ties); the priority is the rank
of (u_0, then earlier deadline) so that SJs whose tanh outputs saturate to the
same value keep the deadline order the policy read them in. The simulator only
uses the order of priorities.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from torch import nn

from characterize.errors import InputError
from characterize.policy_layers import RESIDENT_STEPS, policy_dims, policy_model_name

from .checkpoint import load_checkpoint, require, save_checkpoint
from .scheduler import Scheduler, register_scheduler
from .typed_params import checked_params

#: The policy's own layers, as characterised by ``characterize/policy_layers.py``.
POLICY_LAYERS = ("lstm_gates", "fc1", "fc2")
#: The SA class that runs the policy in the paper (section 5.3).
POLICY_SA_CLASS = "simba_small"
#: Default location of the characterisation table of the policy's layers.
DEFAULT_POLICY_TABLE = Path("outputs/tables/policy.csv")
#: Paper's MACs per policy step at h = 256 (section 5.3).
PAPER_MACS_H256 = 316_288


# --------------------------------------------------------------------------- #
# Encoding


@dataclass(frozen=True)
class EncoderSpec:
    """What the encoder needs to know about the system; saved with every policy.

    Attributes:
        num_sas: M, the number of SAs.
        model_names: model names, indexed by model id (the costs' order).
        model_layers: number of layers of each model (same order).
    """

    num_sas: int
    model_names: tuple[str, ...]
    model_layers: tuple[int, ...]

    @property
    def num_features(self) -> int:
        """F = 4 + 2M."""
        return policy_dims(self.num_sas)[0]

    @property
    def num_outputs(self) -> int:
        """G = 1 + M."""
        return policy_dims(self.num_sas)[1]

    @classmethod
    def from_costs(cls, costs: Any) -> "EncoderSpec":
        """Spec of a :class:`~relmas.costs.SystemCosts`."""
        return cls(num_sas=int(costs.num_sas), model_names=tuple(m.name for m in costs.models),
                   model_layers=tuple(int(m.num_layers) for m in costs.models))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["model_names"] = list(self.model_names)
        d["model_layers"] = list(self.model_layers)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EncoderSpec":
        return cls(num_sas=int(d["num_sas"]), model_names=tuple(str(x) for x in d["model_names"]),
                   model_layers=tuple(int(x) for x in d["model_layers"]))

    def model_map(self, costs: Any, where: str | Path) -> np.ndarray:
        """int64 [number of models of ``costs``]: the policy's model id of each of the costs' models, by name.

        -1 marks a model the policy was not trained with (an error only if one of
        its SJs reaches the policy). Raises :class:`InputError` naming ``where`` if
        the SA count differs or a shared model has another number of layers.
        """
        other = EncoderSpec.from_costs(costs)
        if other.num_sas != self.num_sas:
            raise InputError(where, "encoder.num_sas",
                             f"policy was trained for {self.num_sas} SAs, the system has {other.num_sas}")
        index = {n: i for i, n in enumerate(self.model_names)}
        out = np.full(len(other.model_names), -1, dtype=np.int64)
        for k, (name, n) in enumerate(zip(other.model_names, other.model_layers)):
            if name in index:
                if self.model_layers[index[name]] != n:
                    raise InputError(where, "encoder.model_layers", f"model '{name}' has {n} layers in the table "
                                     f"but {self.model_layers[index[name]]} in the policy")
                out[k] = index[name]
        return out


def slog(x: np.ndarray) -> np.ndarray:
    """Symmetric log compression sign(x) * log(1 + |x|)."""
    return np.sign(x) * np.log1p(np.abs(x))


def encode_arrays(spec: EncoderSpec, model: np.ndarray, layer: np.ndarray, arrival: np.ndarray,
                  deadline: np.ndarray, cycles: np.ndarray, bw: np.ndarray, now: float,
                  sa_free: np.ndarray, bandwidth: float, period: float,
                  order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Encode one ready queue.

    Args:
        spec: the system's encoder spec.
        model, layer: int [R], model id and layer index of each SJ.
        arrival, deadline: float [R], its job's arrival and absolute deadline (cycles).
        cycles, bw: float [R, M], stall-free cycles and required bandwidth on each SA.
        now: the invocation time t (cycles).
        sa_free: float [M], cycles until each SA is free (>= 0).
        bandwidth: the shared DRAM bandwidth B (bytes per cycle).
        period: the scheduling period T_s (cycles).
        order: the order to feed the SJs in; default: by absolute deadline,
            ties in the given order (a stable sort).

    Returns:
        ``(x, order)``: float32 [R + 1, F], the primer then the SJs in ``order``;
        int64 [R], RQ index of each encoded SJ.
    """
    M = spec.num_sas
    R = int(model.shape[0])
    if order is None:
        order = np.argsort(deadline, kind="stable")
    order = np.asarray(order, dtype=np.int64)
    x = np.zeros((R + 1, 4 + 2 * M), dtype=np.float64)
    x[0, 4:4 + M] = slog(np.maximum(np.asarray(sa_free, dtype=np.float64), 0.0) / period)
    if R:
        m = np.asarray(model, dtype=np.int64)[order]
        lay = np.asarray(layer, dtype=np.int64)[order]
        n_layers = np.asarray(spec.model_layers, dtype=np.float64)
        x[1:, 0] = (m + 1.0) / len(spec.model_layers)
        x[1:, 1] = (lay + 1.0) / n_layers[m]
        x[1:, 2] = slog((np.asarray(deadline, dtype=np.float64)[order] - now) / period)
        x[1:, 3] = slog((now - np.asarray(arrival, dtype=np.float64)[order]) / period)
        x[1:, 4:4 + M] = slog(np.asarray(cycles, dtype=np.float64)[order] / period)
        x[1:, 4 + M:] = slog(np.asarray(bw, dtype=np.float64)[order] / bandwidth)
    return x.astype(np.float32), order


def encode(rq: Any, spec: EncoderSpec, subset: np.ndarray | None = None,
           model_map: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Encode a :class:`relmas.scheduler.ReadyQueue` (or any object with its arrays).

    ``subset`` (bool [R] or indices) encodes only those SJs; the returned order
    then indexes the full RQ. Used for the replay buffer's next state, which
    holds the residual RQ only (paper section 4.2). ``model_map`` translates the
    queue's model indices (into the system's costs) to the policy's model ids
    (:meth:`EncoderSpec.model_map`); default: the same.
    """
    idx = np.arange(len(rq.model)) if subset is None else np.flatnonzero(subset) if \
        np.asarray(subset).dtype == bool else np.asarray(subset, dtype=np.int64)
    model = np.asarray(rq.model)[idx]
    if model_map is not None:
        model = model_map[model]
        if model.size and model.min() < 0:
            raise ValueError("the ready queue holds a model the policy was not trained with")
    x, order = encode_arrays(spec, model, rq.layer[idx], rq.arrival[idx], rq.deadline[idx],
                             rq.cycles[idx], rq.bw[idx], float(rq.now), rq.sa_free, float(rq.bandwidth),
                             float(rq.period))
    return x, idx[order]


def decode(out: np.ndarray, order: np.ndarray, num_sj: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Actor outputs -> (priority float64 [R], sa int64 [R]) in RQ order.

    Args:
        out: float [R, G] actor outputs for the encoded SJs (primer removed), in
            encoding order.
        order: int64 [R], RQ index of each encoded SJ.
        num_sj: size of the RQ (default R).

    The SA is argmax of the M scores. The priority returned is a rank: higher
    runs first; SJs with equal priority output keep the encoding (deadline) order.
    """
    R = int(order.shape[0])
    n = R if num_sj is None else int(num_sj)
    priority = np.zeros(n, dtype=np.float64)
    sa = np.zeros(n, dtype=np.int64)
    if R == 0:
        return priority, sa
    out = np.asarray(out)
    sa[order] = np.argmax(out[:, 1:], axis=1)
    # lexsort: last key is primary. Ascending priority output, then later position first.
    pos = np.arange(R)
    ranked = np.lexsort((-pos, out[:, 0].astype(np.float64)))
    rank = np.empty(R, dtype=np.float64)
    rank[ranked] = np.arange(R, dtype=np.float64)
    priority[order] = rank
    return priority, sa


# --------------------------------------------------------------------------- #
# Networks


class Actor(nn.Module):
    """LSTM(h) -> FC(h/2) + ReLU -> FC(G) + Tanh, one output per time step (paper 4.1).

    Args:
        num_features: F.
        num_outputs: G.
        hidden: h (even); the paper uses 256.
    """

    def __init__(self, num_features: int, num_outputs: int, hidden: int = 256):
        super().__init__()
        if hidden < 2 or hidden % 2:
            raise ValueError(f"hidden size must be an even integer >= 2, got {hidden}")
        self.num_features, self.num_outputs, self.hidden = num_features, num_outputs, hidden
        self.lstm = nn.LSTM(num_features, hidden, batch_first=True)
        self.fc1 = nn.Linear(hidden, hidden // 2)
        self.fc2 = nn.Linear(hidden // 2, num_outputs)

    def head(self, h: torch.Tensor) -> torch.Tensor:
        """FC + ReLU + FC + Tanh on LSTM outputs of any leading shape."""
        return torch.tanh(self.fc2(torch.relu(self.fc1(h))))

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Outputs for every step.

        Args:
            x: float32 [B, T, F], padded with anything past each sequence's length.
            lengths: int64 [B] (primer included); None when all are T long.

        Returns:
            float32 [B, T, G]; values past a sequence's length are zero.

        The padded batch runs as is (the LSTM is causal, so padding after a
        sequence cannot change its outputs) and the padding is masked after:
        on CPU this is about twice as fast as a packed sequence for training,
        whose backward pass does not use oneDNN.
        """
        y, _ = self.lstm(x)
        out = self.head(y)
        if lengths is None:
            return out
        mask = (torch.arange(x.shape[1])[None, :] < lengths[:, None]).unsqueeze(-1)
        return out * mask


class Critic(nn.Module):
    """Q(s, a): LSTM(h) over [state, action] (F + G inputs per step), Q from the last hidden state.

    The head mirrors the actor's (FC h/2 + ReLU, then FC to one value, no
    squashing). The primer step's action slots are zero.
    """

    def __init__(self, num_features: int, num_outputs: int, hidden: int = 256):
        super().__init__()
        if hidden < 2 or hidden % 2:
            raise ValueError(f"hidden size must be an even integer >= 2, got {hidden}")
        self.num_features, self.num_outputs, self.hidden = num_features, num_outputs, hidden
        self.lstm = nn.LSTM(num_features + num_outputs, hidden, batch_first=True)
        self.fc1 = nn.Linear(hidden, hidden // 2)
        self.fc2 = nn.Linear(hidden // 2, 1)

    def forward(self, x: torch.Tensor, a: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Q values.

        Args:
            x: float32 [B, T, F] states (primer first).
            a: float32 [B, T, G] actions aligned with ``x`` (row 0, the primer, is ignored).
            lengths: int64 [B] sequence lengths, primer included.

        Returns:
            float32 [B].
        """
        a = torch.cat([torch.zeros_like(a[:, :1]), a[:, 1:]], dim=1)
        y, _ = self.lstm(torch.cat([x, a], dim=-1))
        last = y[torch.arange(y.shape[0]), lengths - 1]  # the hidden state at each sequence's last step
        return self.fc2(torch.relu(self.fc1(last))).squeeze(-1)


def macs_per_step(actor: Actor) -> dict[str, int]:
    """Multiply-accumulates of one actor time step, counted from the built modules.

    ``lstm_gates`` is the product of [x_t, h_{t-1}] with the stacked gate
    weights (weight_ih and weight_hh: 4h(F + h)); ``fc1`` and ``fc2`` are the
    weight matrices; ``total`` is their sum (what the characterisation costs).
    Not in ``total``: the element-wise products of the cell update
    (c = f*c + i*g, h = o*tanh(c): 3h) and the bias additions, reported apart.
    """
    gates = 0
    bias = 0
    for name, p in actor.lstm.named_parameters():
        if name.startswith("weight_"):
            gates += p.numel()
        elif name.startswith("bias_"):
            bias += p.numel()
    fc1 = actor.fc1.weight.numel()
    fc2 = actor.fc2.weight.numel()
    bias += actor.fc1.bias.numel() + actor.fc2.bias.numel()
    return {"lstm_gates": int(gates), "fc1": int(fc1), "fc2": int(fc2), "total": int(gates + fc1 + fc2),
            "elementwise_products": int(3 * actor.hidden), "bias_adds": int(bias)}


# --------------------------------------------------------------------------- #
# Policy files


POLICY_FORMAT = "relmas-policy"
POLICY_VERSION = 1


def policy_payload(actor: Actor, spec: EncoderSpec, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """The content of a policy file (weights-only loadable)."""
    return {"format": POLICY_FORMAT, "version": POLICY_VERSION, "hidden": int(actor.hidden),
            "encoder": spec.to_dict(), "actor": {k: v.detach().cpu().clone() for k, v in actor.state_dict().items()},
            "meta": dict(meta or {})}


def save_policy(path: str | Path, actor: Actor, spec: EncoderSpec, meta: dict[str, Any] | None = None) -> None:
    """Write a policy file atomically (actor weights + encoder spec + metadata)."""
    save_checkpoint(path, policy_payload(actor, spec, meta))


def actor_from_payload(payload: dict[str, Any], path: str | Path) -> tuple[Actor, EncoderSpec]:
    """Rebuild the actor and spec from a loaded policy payload, errors naming ``path``."""
    require(payload, path, {"hidden": int, "encoder": dict, "actor": dict})
    try:
        spec = EncoderSpec.from_dict(payload["encoder"])
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(path, "encoder", f"malformed encoder spec: {exc}") from None
    hidden = int(payload["hidden"])
    try:
        actor = Actor(spec.num_features, spec.num_outputs, hidden)
    except ValueError as exc:
        raise InputError(path, "hidden", str(exc)) from None
    _load_state(actor, payload["actor"], path, "actor")
    actor.eval()
    return actor, spec


def _load_state(module: nn.Module, state: dict[str, Any], path: str | Path, field: str) -> None:
    try:
        module.load_state_dict(state, strict=True)
    except (RuntimeError, KeyError, TypeError) as exc:
        msg = str(exc).strip().splitlines()
        net = getattr(module, "module", module)  # an AveragedModel's sizes are its module's
        raise InputError(path, field, "weights do not match the network " +
                         f"(hidden {getattr(net, 'hidden', '?')}, F {getattr(net, 'num_features', '?')}, "
                         f"G {getattr(net, 'num_outputs', '?')}): " + " ".join(m.strip() for m in msg[:3])) from None


def load_policy(path: str | Path) -> tuple[Actor, EncoderSpec, dict[str, Any]]:
    """Load a policy file (``best.pt`` of ``relmas train``, or a training checkpoint).

    Returns ``(actor, spec, meta)``; raises :class:`InputError` naming ``path``
    when the file is missing, corrupt, truncated, not a policy, or its weights
    do not match its declared sizes.
    """
    payload = load_checkpoint(path, formats=(POLICY_FORMAT, "relmas-train"))
    if payload["format"] == "relmas-train":
        payload = payload.get("policy") if isinstance(payload.get("policy"), dict) else {}
        if not payload:
            raise InputError(path, "policy", "training checkpoint holds no policy")
    actor, spec = actor_from_payload(payload, path)
    return actor, spec, dict(payload.get("meta") or {})


# --------------------------------------------------------------------------- #
# Decision overhead (paper section 5.3)


@dataclass(frozen=True)
class DecisionCost:
    """Cost of one scheduling decision of ``steps`` policy steps on the SA class that runs the policy.

    ``fixed + steps x step``: the fixed part is loading the weights into the SA
    (once per decision, they stay in its buffers across the decision's steps
    where they fit); the per-step part is the compute, the on-chip buffer
    traffic, and the DRAM traffic of whatever does not stay resident.
    """

    fixed_cycles: float
    fixed_energy_pj: float
    step_cycles: float
    step_energy_pj: float
    model: str
    sa_class: str

    def of(self, steps: int) -> tuple[float, float]:
        """(cycles, energy in pJ) of a decision of ``steps`` steps (R + 1 for a queue of R SJs)."""
        return self.total(1, steps) if steps > 0 else (0.0, 0.0)

    def total(self, decisions: int, steps: int) -> tuple[float, float]:
        """(cycles, energy in pJ) of ``decisions`` decisions taking ``steps`` steps in all."""
        return (decisions * self.fixed_cycles + steps * self.step_cycles,
                decisions * self.fixed_energy_pj + steps * self.step_energy_pj)


def policy_decision_cost(table: str | Path | Any, hidden: int, num_sas: int,
                         sa_class: str = POLICY_SA_CLASS) -> DecisionCost:
    """Fixed and per-step cost of a decision, from the characterisation table of the policy's layers.

    ``table`` is the table's path, or the table as a DataFrame (errors name its
    ``attrs["source"]`` when set). Reads the rows of
    ``relmas_policy_h{hidden}_m{num_sas}`` (one step, P = 1) and of its ``_x{T}``
    twin (T = :data:`characterize.policy_layers.RESIDENT_STEPS` steps as one product)
    on ``sa_class``, sums their three layers (LSTM gates, FC1, FC2), and fits the
    line through the two points: per step = (cost(T) - cost(1)) / (T - 1),
    fixed = cost(1) - per step (each clipped at 0).
    """
    import pandas as pd

    name = policy_model_name(hidden, num_sas)
    batched = policy_model_name(hidden, num_sas, RESIDENT_STEPS)
    if isinstance(table, pd.DataFrame):
        df, where = table, table.attrs.get("source", "policy table")
    else:
        where = Path(table)
        if not where.is_file():
            raise InputError(where, "", f"policy characterisation table not found (needed to charge the decision "
                             f"overhead of {name}); run `relmas characterize` for the policy layers, or turn the "
                             "overhead charge off")
        try:
            df = pd.read_csv(where)
        except Exception as exc:  # noqa: BLE001 - any unreadable CSV
            raise InputError(where, "", f"not a readable CSV table: {exc}") from None
    missing = [c for c in ("model", "layer", "sa_class", "cycles", "energy_pj") if c not in df.columns]
    if missing:
        raise InputError(where, "columns", f"missing columns {missing}")

    def total(model: str) -> tuple[float, float]:
        rows = df[(df["model"] == model) & (df["sa_class"] == sa_class)]
        if rows.empty:
            have = sorted({str(m) for m in df["model"] if str(m).startswith("relmas_policy_")})
            raise InputError(where, model, f"no rows for {model} on {sa_class} (the table has: "
                             f"{', '.join(have) or 'none'}); run `relmas characterize --classes {sa_class} "
                             f"--policy-hidden {hidden} ...` (or add {hidden} to characterize.policy_hidden), "
                             "or turn the overhead charge off")
        lack = [layer for layer in POLICY_LAYERS if layer not in set(rows["layer"])]
        if lack:
            raise InputError(where, model, f"missing layers {lack} on {sa_class}")
        sel = rows[rows["layer"].isin(POLICY_LAYERS)]
        return float(sel["cycles"].sum()), float(sel["energy_pj"].sum())

    c1, e1 = total(name)
    cT, eT = total(batched)
    step_c = max(0.0, (cT - c1) / (RESIDENT_STEPS - 1))
    step_e = max(0.0, (eT - e1) / (RESIDENT_STEPS - 1))
    return DecisionCost(fixed_cycles=max(0.0, c1 - step_c), fixed_energy_pj=max(0.0, e1 - step_e),
                        step_cycles=step_c, step_energy_pj=step_e, model=name, sa_class=sa_class)


# --------------------------------------------------------------------------- #
# Helpers used by training and the scheduler


def act(actor: Actor, x: np.ndarray) -> np.ndarray:
    """Deterministic actor outputs for one encoded queue: float32 [R, G] (primer dropped)."""
    with torch.inference_mode():
        return actor(torch.from_numpy(x)[None])[0, 1:].numpy()


def pad_batch(seqs: Sequence[np.ndarray], width: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Stack variable-length float32 [T_i, width] arrays into a zero-padded [B, T, width] tensor + lengths."""
    lengths = np.array([s.shape[0] for s in seqs], dtype=np.int64)
    T = int(lengths.max()) if len(seqs) else 0
    out = np.zeros((len(seqs), T, width), dtype=np.float32)
    for i, s in enumerate(seqs):
        out[i, :s.shape[0]] = s
    return torch.from_numpy(out), torch.from_numpy(lengths)


# --------------------------------------------------------------------------- #
# The scheduler


@checked_params
class RelmasScheduler(Scheduler):
    """The trained RELMAS policy as a :class:`relmas.scheduler.Scheduler` (registered as ``relmas``).

    Deterministic: the actor's outputs are used as they are (no exploration
    noise). With ``charge_overhead`` (the default, as in the paper, section
    5.3), every decision is charged to the SA that runs the policy, the first
    Simba Small of the system: the cycles and energy of R + 1 policy steps (LSTM
    gates + FC1 + FC2) with the weights loaded once per decision
    (:class:`DecisionCost`, from ``relmas_policy_h{h}_m{M}`` and its ``_x64``
    twin on simba_small in the policy characterisation table). The simulator queues those cycles on
    that SA ahead of the queue's SJs, so the primer's "cycles until free" of
    the next decisions include them.

    Args:
        policy: a policy file (``best.pt`` of ``relmas train``), or an :class:`Actor`.
        spec: the encoder spec (needed when ``policy`` is an Actor).
        costs: the system's :class:`relmas.costs.SystemCosts`; checked against the
            policy, and used to find the Simba Small SA for the overhead.
        charge_overhead: charge the decision overhead (default True).
        policy_table: characterisation table of the policy's layers.
        decision_cost: cost model of a decision, instead of reading ``policy_table``.
        overhead_sa: SA index that runs the policy (default: first ``simba_small`` of ``costs``).
    """

    name = "relmas"

    def __init__(self, policy: str | Path | Actor, spec: EncoderSpec | None = None, costs: Any = None,
                 charge_overhead: bool = True, policy_table: str | Path = DEFAULT_POLICY_TABLE,
                 decision_cost: DecisionCost | None = None, overhead_sa: int | None = None):
        where: str | Path = "policy"
        if isinstance(policy, Actor):
            if spec is None:
                raise ValueError("an Actor needs its EncoderSpec")
            actor, self.meta = policy, {}
        else:
            where = Path(policy)
            actor, spec, self.meta = load_policy(where)
        self.spec: EncoderSpec = spec
        self.actor = actor
        self.hidden = int(actor.hidden)
        self._map: np.ndarray | None = None
        self._where = where
        self._cost_models = [m.name for m in costs.models] if costs is not None else []
        if costs is not None:
            self._map = spec.model_map(costs, where)
            if np.array_equal(self._map, np.arange(len(spec.model_names))):
                self._map = None  # identity
        self.charge = bool(charge_overhead)
        self.decision_cost: DecisionCost | None = None
        self.overhead_sa: int | None = None
        if self.charge:
            self.decision_cost = decision_cost or policy_decision_cost(policy_table, self.hidden, spec.num_sas)
            if overhead_sa is not None:
                self.overhead_sa = int(overhead_sa)
            elif costs is not None:
                self.overhead_sa = self.policy_sa(costs)
            else:
                raise ValueError("charging the decision overhead needs the system costs or overhead_sa")
            if not 0 <= self.overhead_sa < spec.num_sas:
                raise ValueError(f"overhead_sa {self.overhead_sa} out of range [0, {spec.num_sas})")

    @staticmethod
    def policy_sa(costs: Any, sa_class: str = POLICY_SA_CLASS) -> int:
        """Index of the first SA of class ``sa_class`` (the paper runs the policy on a Simba Small)."""
        for i, c in enumerate(costs.sa_classes):
            if c == sa_class:
                return i
        raise InputError(getattr(costs, "system", "system"), "accelerators",
                         f"no {sa_class} SA to run the policy on; pass overhead_sa or turn the overhead charge off")

    def decision_overhead(self, rq: Any) -> tuple[int, float, float] | None:
        """(SA, cycles, energy) of a decision of R + 1 steps, or None when not charging or R = 0."""
        if not self.charge or rq.size == 0:
            return None
        cycles, energy = self.decision_cost.of(rq.size + 1)
        return self.overhead_sa, cycles, energy

    def schedule(self, rq: Any) -> tuple[np.ndarray, np.ndarray]:
        """Encode the queue, run the actor once over it, decode priorities and SAs."""
        if self._map is not None and rq.size and (self._map[rq.model] < 0).any():
            k = int(rq.model[np.argmax(self._map[rq.model] < 0)])
            raise InputError(self._where, "encoder.model_names", f"model '{self._cost_models[k]}' is not one the "
                             f"policy was trained with ({', '.join(self.spec.model_names)})")
        x, order = encode(rq, self.spec, model_map=self._map)
        return decode(act(self.actor, x), order, rq.size)


class RelmasPaperScheduler(RelmasScheduler):
    """The same scheduler under the name ``relmas-paper``: a policy trained with ``--recipe paper``.

    Decisions are made exactly as by :class:`RelmasScheduler`; the separate name
    keeps the two recipes' policies apart in result tables and figures.
    """

    name = "relmas-paper"


register_scheduler("relmas", RelmasScheduler)
register_scheduler("relmas-paper", RelmasPaperScheduler)
