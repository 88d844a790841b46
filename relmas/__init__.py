"""RELMAS: contention simulator, workloads, the DDPG + LSTM scheduler and the CLI."""

__version__ = "0.1.0"
