"""Trace replay: one fixed schedule of a few jobs, simulated exactly.

A trace is a YAML file that spells out a schedule by hand: the DRAM bandwidth,
the accelerators, and for every job its arrival, deadline and layers, each with
its cycles and bandwidth on every accelerator, the SA it runs on, its priority
and its predecessors::

    bandwidth: 16              # bytes per cycle
    accelerators: [sa0, sa1]
    jobs:
      - name: j0
        arrival: 0
        deadline: 5000
        layers:
          - {name: stem,  cycles: [300, 900], bandwidth: [12, 4], sa: 0, priority: 0.7}
          - {name: conv1, cycles: [600, 800], bandwidth: [12, 4], sa: 1, priority: 0.7, after: [stem]}

``after`` is optional: by default a layer follows the previous layer of its job
(none for the first); ``after: []`` means no predecessor. ``priority`` (default 0):
higher starts first; ties go to the job that arrived first, then to the job
listed first, then to the earlier layer of the job: the online simulator's tie
order (job arrival, then job index, then layer), whatever order the file lists
its jobs in.

The replay is a single decision covering all jobs (no periodic re-scheduling,
so a job starts as soon as it arrives rather than at the next invocation):
SJs still respect arrival, dependencies, SA availability, bandwidth contention
and deadline drops (no start at or after the deadline), exactly as in the
online simulator. :func:`replay` returns::

    {"layers": [{"job", "layer", "sa", "start", "finish"}, ...],   # file order, null if dropped
     "jobs": [{"job", "finish", "hit"}, ...],                        # finish null unless all layers finished
     "sla_rate": hits / jobs}
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from characterize.errors import InputError
from characterize.schema import load_yaml
from relmas.sim.kernel import run_schedule

_NonNeg = Annotated[float, Field(ge=0, allow_inf_nan=False)]
_Finite = Annotated[float, Field(allow_inf_nan=False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TraceLayer(_Strict):
    """One layer (SJ) of a trace job."""

    name: str = Field(min_length=1)
    cycles: list[_NonNeg] = Field(min_length=1, description="stall-free cycles on each accelerator")
    bandwidth: list[_NonNeg] = Field(min_length=1, description="DRAM bytes per cycle on each accelerator")
    sa: Annotated[int, Field(ge=0, strict=True)]
    priority: _Finite = 0.0
    after: list[str] | None = None


class TraceJob(_Strict):
    """One job of a trace."""

    name: str = Field(min_length=1)
    arrival: _NonNeg
    deadline: _Finite
    layers: list[TraceLayer] = Field(min_length=1)


class TraceFile(_Strict):
    """A whole trace file."""

    bandwidth: Annotated[float, Field(gt=0, allow_inf_nan=False)]
    accelerators: list[str] = Field(min_length=1)
    jobs: list[TraceJob] = Field(min_length=1)


@dataclass
class Trace:
    """A validated trace, flattened to SJs in file order.

    Attributes:
        path: the file it came from.
        spec: the parsed file.
        job_of: int64 [n], job index of each SJ.
        preds: predecessor SJ indices of each SJ.
    """

    path: str
    spec: TraceFile
    job_of: np.ndarray
    preds: list[list[int]]


def _field(loc: tuple) -> str:
    out = ""
    for item in loc:
        out += f"[{item}]" if isinstance(item, int) else ("." if out else "") + str(item)
    return out


def parse_trace(data: dict[str, Any], path: str | Path = "<trace>") -> Trace:
    """Validate a trace mapping; raise :class:`InputError` naming ``path`` and the field."""
    try:
        spec = TraceFile.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = {"extra_forbidden": "unknown field", "missing": "missing required field"}.get(err["type"], err["msg"])
        more = len(exc.errors()) - 1
        if more:
            msg += f" (and {more} more error{'s' if more > 1 else ''})"
        raise InputError(path, _field(tuple(err["loc"])), msg) from None
    M = len(spec.accelerators)
    seen: dict[str, int] = {}
    for a, name in enumerate(spec.accelerators):
        if name in seen:
            raise InputError(path, f"accelerators[{a}]", f"duplicate accelerator name {name!r}")
        seen[name] = a
    job_names: dict[str, int] = {}
    job_of: list[int] = []
    preds: list[list[int]] = []
    for j, job in enumerate(spec.jobs):
        where = f"jobs[{j}]"
        if job.name in job_names:
            raise InputError(path, f"{where}.name", f"duplicate job name {job.name!r}")
        job_names[job.name] = j
        if job.deadline < job.arrival:
            raise InputError(path, f"{where}.deadline", f"deadline {job.deadline:g} is before arrival {job.arrival:g}")
        names: dict[str, int] = {}
        for k, lay in enumerate(job.layers):
            lw = f"{where}.layers[{k}]"
            if lay.name in names:
                raise InputError(path, f"{lw}.name", f"duplicate layer name {lay.name!r} in job {job.name!r}")
            names[lay.name] = k
            for fld in ("cycles", "bandwidth"):
                n = len(getattr(lay, fld))
                if n != M:
                    raise InputError(path, f"{lw}.{fld}",
                                     f"has {n} entries, expected one per accelerator ({M})")
            if lay.sa >= M:
                raise InputError(path, f"{lw}.sa", f"{lay.sa} is out of range: {M} accelerators (0..{M - 1})")
        base = len(job_of)
        local: list[list[int]] = []
        for k, lay in enumerate(job.layers):
            if lay.after is None:
                local.append([k - 1] if k else [])
                continue
            ps = []
            for a, name in enumerate(lay.after):
                if name not in names:
                    raise InputError(path, f"{where}.layers[{k}].after[{a}]",
                                     f"unknown layer {name!r} in job {job.name!r}")
                if names[name] in ps:
                    raise InputError(path, f"{where}.layers[{k}].after[{a}]", f"layer {name!r} listed twice")
                ps.append(names[name])
            local.append(ps)
        cyc = _find_cycle(local)
        if cyc is not None:
            chain = " -> ".join(job.layers[c].name for c in cyc)
            raise InputError(path, f"{where}.layers[{cyc[0]}].after", f"dependency cycle: {chain}")
        for k in range(len(job.layers)):
            job_of.append(j)
            preds.append([base + p for p in local[k]])
    return Trace(str(path), spec, np.array(job_of, np.int64), preds)


def _find_cycle(preds: list[list[int]]) -> list[int] | None:
    """A dependency cycle as a closed list of layer indices, or None."""
    state = [0] * len(preds)  # 0 new, 1 on stack, 2 done
    for root in range(len(preds)):
        if state[root]:
            continue
        stack = [(root, iter(preds[root]))]
        path = [root]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state[nxt] == 1:
                return path[path.index(nxt):] + [nxt]
            elif state[nxt] == 0:
                state[nxt] = 1
                stack.append((nxt, iter(preds[nxt])))
                path.append(nxt)
    return None


def load_trace(path: str | Path) -> Trace:
    """Read and validate a trace YAML file (raises :class:`InputError` on any problem)."""
    return parse_trace(load_yaml(path), path)


def replay(trace: Trace) -> dict[str, Any]:
    """Replay the trace's schedule; returns the ``{"layers", "jobs", "sla_rate"}`` report."""
    spec = trace.spec
    lays = [(j, lay) for j, job in enumerate(spec.jobs) for lay in job.layers]
    n = len(lays)
    # the kernel breaks priority ties by index: hand it the SJs in the online tie order (job arrival, job, layer)
    arrival = np.array([spec.jobs[j].arrival for j, _ in lays], np.float64)
    order = np.lexsort((np.arange(n), trace.job_of, arrival))  # file order is job by job, layer by layer
    pos = np.empty(n, np.int64)
    pos[order] = np.arange(n)
    preds = [trace.preds[i] for i in order]
    ptr = np.zeros(n + 1, np.int64)
    ptr[1:] = np.cumsum([len(p) for p in preds])
    lo = [lays[i] for i in order]
    res = run_schedule(
        n_sa=len(spec.accelerators), sa=np.array([lay.sa for _, lay in lo], np.int64),
        priority=np.array([lay.priority for _, lay in lo]),
        work=np.array([lay.cycles[lay.sa] for _, lay in lo]),
        bw=np.array([lay.bandwidth[lay.sa] for _, lay in lo]),
        release=arrival[order],
        deadline=np.array([spec.jobs[j].deadline for j, _ in lo], np.float64),
        pred_ptr=ptr, pred_idx=np.array([pos[q] for p in preds for q in p], np.int64),
        bandwidth=spec.bandwidth,
    )
    start, finish = res.start[pos], res.finish[pos]  # back to file order
    num = lambda x: None if math.isnan(x) else float(x)  # noqa: E731
    layers = [{"job": spec.jobs[j].name, "layer": lay.name, "sa": int(lay.sa),
               "start": num(start[i]), "finish": num(finish[i])} for i, (j, lay) in enumerate(lays)]
    jobs = []
    hits = 0
    for j, job in enumerate(spec.jobs):
        f = finish[trace.job_of == j]
        fin = None if np.isnan(f).any() else float(f.max())
        hit = fin is not None and fin <= job.deadline
        hits += hit
        jobs.append({"job": job.name, "finish": fin, "hit": bool(hit)})
    return {"layers": layers, "jobs": jobs, "sla_rate": hits / len(spec.jobs)}
