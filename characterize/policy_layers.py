"""The RELMAS policy's own layers, as a model the characterisation pipeline can cost.

One policy step (one SJ of the ready queue) runs an LSTM cell and two fully
connected layers (paper section 4.1): the four LSTM gates are one matrix
product of the concatenated [x_t, h_{t-1}] (F + h values) with a (F + h) x 4h
weight matrix; then FC h -> h/2 and FC h/2 -> G. Element-wise gate arithmetic
(sigmoid, tanh, the cell update) is not a MAC-array layer and is not costed.
"""
from __future__ import annotations

from .schema import Layer, Model, ModelSource


def policy_dims(num_sas: int) -> tuple[int, int]:
    """(F, G): per-SJ features F = 4 + 2M and outputs G = 1 + M."""
    return 4 + 2 * num_sas, 1 + num_sas


def policy_model(hidden: int, num_sas: int) -> Model:
    """The actor's layers for hidden size ``hidden`` on a system of ``num_sas`` SAs."""
    if hidden < 2 or hidden % 2:
        raise ValueError(f"hidden size must be an even integer >= 2, got {hidden}")
    f, g = policy_dims(num_sas)
    layers = [
        Layer(name="lstm_gates", op="matmul", C=f + hidden, K=4 * hidden),
        Layer(name="fc1", op="fc", C=hidden, K=hidden // 2, after=["lstm_gates"]),
        Layer(name="fc2", op="fc", C=hidden // 2, K=g, after=["fc1"]),
    ]
    return Model(
        name=f"relmas_policy_h{hidden}_m{num_sas}",
        description=f"RELMAS actor, one LSTM step at hidden size {hidden}, F={f}, G={g}",
        source=ModelSource(variant=f"LSTM({hidden}) -> FC({hidden // 2}) -> FC({g})",
                           reference="Blanco et al., DAC 2024, section 4.1", input=f"{f} features per SJ"),
        layers=layers,
    )
