"""Baseline schedulers of the paper (FCFS-H, PREMA-H, Herald, MAGMA) plus EDF-H."""
