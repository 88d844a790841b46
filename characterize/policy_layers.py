"""The RELMAS policy's own layers, as models the characterisation pipeline can cost.

One policy step (one SJ of the ready queue) runs an LSTM cell and two fully
connected layers (paper section 4.1): the four LSTM gates are one matrix
product of the concatenated [x_t, h_{t-1}] (F + h values) with a (F + h) x 4h
weight matrix; then FC h -> h/2 and FC h/2 -> G. Element-wise gate arithmetic
(sigmoid, tanh, the cell update) is not a MAC-array layer and is not costed.

A decision runs R + 1 such steps back to back with the same weights. Each
hidden size is therefore costed twice: one step alone (``P = 1``: every weight
comes from DRAM) and :data:`RESIDENT_STEPS` steps as one product with ``P``
rows, where the mapper keeps weights in the SA's weight buffers across the
rows wherever they fit. The two give a fixed cost per decision (loading the
weights) and a marginal cost per step (:func:`relmas.policy.policy_decision_cost`).
The LSTM's steps are sequential (step t needs h_{t-1}), so the ``P`` rows are
not computed in parallel; on the weight-stationary Simba the mapper unrolls C
and K spatially and P temporally, so the batched product's cycles are the
steps' cycles run one after another.
"""
from __future__ import annotations

from .schema import Layer, Model, ModelSource

#: Steps of the batched policy model (about one ready queue at the calibrated loads).
RESIDENT_STEPS = 64


def policy_dims(num_sas: int) -> tuple[int, int]:
    """(F, G): per-SJ features F = 4 + 2M and outputs G = 1 + M."""
    return 4 + 2 * num_sas, 1 + num_sas


def policy_model_name(hidden: int, num_sas: int, steps: int = 1) -> str:
    """``relmas_policy_h{hidden}_m{num_sas}``, with ``_x{steps}`` for the batched model."""
    base = f"relmas_policy_h{hidden}_m{num_sas}"
    return base if steps == 1 else f"{base}_x{steps}"


def policy_model(hidden: int, num_sas: int, steps: int = 1) -> Model:
    """The actor's layers for hidden size ``hidden`` on a system of ``num_sas`` SAs, ``steps`` steps at once."""
    if hidden < 2 or hidden % 2:
        raise ValueError(f"hidden size must be an even integer >= 2, got {hidden}")
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    f, g = policy_dims(num_sas)
    layers = [
        Layer(name="lstm_gates", op="matmul", C=f + hidden, K=4 * hidden, P=steps),
        Layer(name="fc1", op="fc", C=hidden, K=hidden // 2, P=steps, after=["lstm_gates"]),
        Layer(name="fc2", op="fc", C=hidden // 2, K=g, P=steps, after=["fc1"]),
    ]
    what = "one LSTM step" if steps == 1 else f"{steps} LSTM steps sharing their weights"
    return Model(
        name=policy_model_name(hidden, num_sas, steps),
        description=f"RELMAS actor, {what}, hidden size {hidden}, F={f}, G={g}",
        source=ModelSource(variant=f"LSTM({hidden}) -> FC({hidden // 2}) -> FC({g})",
                           reference="Blanco et al., DAC 2024, section 4.1", input=f"{f} features per SJ"),
        layers=layers,
    )


def policy_models(hidden: int, num_sas: int) -> list[Model]:
    """Both models :func:`relmas.policy.policy_decision_cost` needs: one step, and RESIDENT_STEPS steps."""
    return [policy_model(hidden, num_sas), policy_model(hidden, num_sas, RESIDENT_STEPS)]
