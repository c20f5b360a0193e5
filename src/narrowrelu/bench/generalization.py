"""The generalization suite: fresh seeds, every knob drawn at random, combined structures.

The learner is never tuned on these instances (docs/evaluation.md). Instance ``i`` of a
structure has the seed ``FIRST_SEED + 1000 * s + i`` (``s`` the structure's position in
``STRUCTURES``), far from the zoo's seeds 0-9 and the tuning seed 10 000. Its knobs are drawn
from ``numpy.random.default_rng([KNOB_SALT, seed])`` and its network is built from
``default_rng([BUILD_SALT, seed])``: the code freezes every instance, nothing depends on the
clock. Every knob is recorded in the instance's :class:`~narrowrelu.bench.harness.Case`
(``knobs``), hence in every record of ``results.json``.

Ranges (all draws independent; "log-uniform" is uniform in the logarithm):

- d uniform in ``[D_RANGE]`` = [5, 50]; k uniform in ``[K_RANGE]`` = [2, 8] unless stated;
  ``ROWS_PER_DK * d * k`` noiseless rows (500 d k).
- Weight ranges of every block of ``random`` neurons: ``(a, a r)``, a uniform in [0.1, 1],
  r log-uniform in [1, 100] (spreads up to 100x); signs random.
- ``random``: as above. ``random-wide``: d in [5, 16], k uniform in [ceil(d/2), d].
- ``orthonormal``: basis standard or random (equally likely), weight log-uniform in [0.1, 10], k <= d.
- ``conditioned``: kappa log-uniform in [1, 100], k <= d.
- ``close-pair``: theta log-uniform in [1e-3, 0.3], L log-uniform in [1, 100]; k - 2 random neurons.
- ``cluster``: m uniform in {2, ..., 5}, spacing theta log-uniform in [0.03, 0.3]; k in [m, 8].
- ``vanishing``: m in {2, 4, 6} (2m ReLUs), nothing else.
- ``two-close-pairs``: two close pairs (knobs drawn independently) and 0-4 random neurons.
- ``pair-and-cluster``: a close pair beside a cluster (m in {2, ..., 5}) and random neurons up to k = 8.
- ``vanishing-and-random``: a vanishing block (m in {2, 4, 6}) and 1-4 random neurons.
- ``noisy-0.1``, ``noisy-0.5``: a base family drawn uniformly (its knobs as above), noise
  sigma = 0.1 or 0.5 of std f; scored by excess risk against the oracle's (refinement started
  at the truth on the same rows): success is a ratio at most ``NOISY_SUCCESS``.

Hidden biases (``generalization-biased``, its own seeds from ``FIRST_BIASED_SEED``, ``BIASED_ROWS_PER_DK``
d k rows = 1000 d k): every unit's bias ``b ~ N(0, s^2)``, s uniform in [0.5, 1] per instance.

- ``biased``: a base family drawn uniformly (its knobs as above: k <= 8, d <= 50; ``vanishing`` k up to 12).
- ``biased-wide``: ``random`` wider than its input: d uniform in [5, 10], k uniform in [d + 1, 2d].
- ``biased-noisy-0.1``, ``biased-noisy-0.5``: ``biased`` with noise, scored against the oracle as above.

Combined structures are built by composing networks of :mod:`narrowrelu.planted` (each
part planted on its own, then their neurons concatenated); parts are recorded as
``p1_family``, ``p1_k``, ``p1_<knob>``, ``p2_...``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .. import planted
from ..network import ReLUNetwork

#: Seed of instance 0 of the first structure (fresh: never the zoo's 0-9 nor the tuning seed 10 000).
FIRST_SEED = 20_000
#: First words of the knob and network generators' seeds (``default_rng([SALT, seed])``).
KNOB_SALT, BUILD_SALT = 1301, 1302
D_RANGE, K_RANGE = (5, 50), (2, 8)
#: Noiseless and noisy rows per unit of d * k.
ROWS_PER_DK = 500
#: Instances per structure in the default suite: 12 x 12 = 144 instances, about 25 minutes on one core
#: (measured: the first 186 instances of ``--seeds 20``, the noiseless ones, took 30 CPU minutes, the
#: slowest single instances 1-3 CPU minutes); ``--seeds N`` runs more (a superset: same first seeds).
DEFAULT_SEEDS = 12
#: Seed of instance 0 of the first biased structure (fresh: beyond every seed used before), its rows per d k.
FIRST_BIASED_SEED, BIASED_ROWS_PER_DK = 50_000, 1000
#: A noisy instance succeeds when its excess risk is at most this times the oracle's (docs/evaluation.md).
NOISY_SUCCESS = 1.2
TAG = "generalization"

Parts = list[tuple[str, int, dict]]


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def _integer(rng: np.random.Generator, low: int, high: int) -> int:
    """Uniform on {low, ..., high}."""
    return int(rng.integers(low, high + 1))


def _weight_range(rng) -> tuple[float, float]:
    low = float(rng.uniform(0.1, 1.0))
    return (low, low * _log_uniform(rng, 1.0, 100.0))


def _random_part(rng, k: int) -> tuple[str, int, dict]:
    return ("random", k, {"weight_range": _weight_range(rng)})


def _pair_part(rng) -> tuple[str, int, dict]:
    return ("close-pair", 2, {"theta": _log_uniform(rng, 1e-3, 0.3), "L": _log_uniform(rng, 1.0, 100.0)})


def _cluster_part(rng, m: int) -> tuple[str, int, dict]:
    return ("cluster", m, {"m": m, "theta": _log_uniform(rng, 0.03, 0.3)})


def _vanishing_part(rng) -> tuple[str, int, dict]:
    m = int(rng.choice([2, 4, 6]))
    return ("vanishing", 2 * m, {"m": m})


def _with_rest(parts: Parts, rng, rest: int) -> Parts:
    return parts + ([_random_part(rng, rest)] if rest > 0 else [])


def _d(rng) -> int:
    return _integer(rng, *D_RANGE)


def _random(rng) -> tuple[int, Parts]:
    return _d(rng), [_random_part(rng, _integer(rng, *K_RANGE))]


def _random_wide(rng) -> tuple[int, Parts]:
    d = _integer(rng, 5, 16)
    return d, [_random_part(rng, _integer(rng, math.ceil(d / 2), d))]


def _orthonormal(rng) -> tuple[int, Parts]:
    d = _d(rng)
    k = _integer(rng, K_RANGE[0], min(K_RANGE[1], d))
    return d, [("orthonormal", k, {"basis": str(rng.choice(["standard", "random"])),
                                   "weight": _log_uniform(rng, 0.1, 10.0)})]


def _conditioned(rng) -> tuple[int, Parts]:
    d = _d(rng)
    return d, [("conditioned", _integer(rng, K_RANGE[0], min(K_RANGE[1], d)), {"kappa": _log_uniform(rng, 1, 100)})]


def _close_pair(rng) -> tuple[int, Parts]:
    d, k = _d(rng), _integer(rng, *K_RANGE)
    family, _, knobs = _pair_part(rng)
    return d, [(family, k, knobs | {"weight_range": _weight_range(rng)})]


def _cluster(rng) -> tuple[int, Parts]:
    d, m = _d(rng), _integer(rng, 2, 5)
    k = _integer(rng, m, K_RANGE[1])
    family, _, knobs = _cluster_part(rng, m)
    return d, [(family, k, knobs | {"weight_range": _weight_range(rng)})]


def _vanishing(rng) -> tuple[int, Parts]:
    return _d(rng), [_vanishing_part(rng)]


def _two_close_pairs(rng) -> tuple[int, Parts]:
    d = _d(rng)
    return d, _with_rest([_pair_part(rng), _pair_part(rng)], rng, _integer(rng, 0, 4))


def _pair_and_cluster(rng) -> tuple[int, Parts]:
    d, m = _d(rng), _integer(rng, 2, 5)
    return d, _with_rest([_pair_part(rng), _cluster_part(rng, m)], rng, _integer(rng, 0, K_RANGE[1] - 2 - m))


def _vanishing_and_random(rng) -> tuple[int, Parts]:
    d = _d(rng)
    return d, _with_rest([_vanishing_part(rng)], rng, _integer(rng, 1, 4))


BASE = {"random": _random, "orthonormal": _orthonormal, "conditioned": _conditioned, "close-pair": _close_pair,
        "cluster": _cluster, "vanishing": _vanishing}


def _base_family(rng) -> tuple[int, Parts]:
    """One of ``BASE`` drawn uniformly, with its knobs."""
    return BASE[str(rng.choice(list(BASE)))](rng)


#: Structure -> (draw(rng) -> (d, parts), noise).
STRUCTURES: dict[str, tuple[Callable, float]] = {
    "random": (_random, 0.0),
    "random-wide": (_random_wide, 0.0),
    "orthonormal": (_orthonormal, 0.0),
    "conditioned": (_conditioned, 0.0),
    "close-pair": (_close_pair, 0.0),
    "cluster": (_cluster, 0.0),
    "vanishing": (_vanishing, 0.0),
    "two-close-pairs": (_two_close_pairs, 0.0),
    "pair-and-cluster": (_pair_and_cluster, 0.0),
    "vanishing-and-random": (_vanishing_and_random, 0.0),
    "noisy-0.1": (_base_family, 0.1),
    "noisy-0.5": (_base_family, 0.5),
}


def _bias_scale(rng) -> float:
    return float(rng.uniform(0.5, 1.0))


def _biased(rng) -> tuple[int, Parts]:
    d, parts = _base_family(rng)
    scale = _bias_scale(rng)
    return d, [(family, k, params | {"biases": scale}) for family, k, params in parts]


def _biased_wide(rng) -> tuple[int, Parts]:
    d = _integer(rng, 5, 10)
    family, k, params = _random_part(rng, _integer(rng, d + 1, 2 * d))
    return d, [(family, k, params | {"biases": _bias_scale(rng)})]


#: Structures with hidden biases (suite ``generalization-biased``).
BIASED_STRUCTURES: dict[str, tuple[Callable, float]] = {
    "biased": (_biased, 0.0),
    "biased-wide": (_biased_wide, 0.0),
    "biased-noisy-0.1": (_biased, 0.1),
    "biased-noisy-0.5": (_biased, 0.5),
}


def seed_of(structure: str, index: int) -> int:
    """The seed of instance ``index`` of ``structure``."""
    if structure in BIASED_STRUCTURES:
        return FIRST_BIASED_SEED + 1000 * list(BIASED_STRUCTURES).index(structure) + index
    return FIRST_SEED + 1000 * list(STRUCTURES).index(structure) + index


def draw(structure: str, seed: int):
    """The frozen knobs of one instance: a :class:`~narrowrelu.bench.harness.Case` tagged ``generalization``."""
    from .harness import Case

    known = STRUCTURES | BIASED_STRUCTURES
    if structure not in known:
        raise ValueError(f"unknown structure {structure!r}; expected one of {', '.join(known)}")
    make_parts, noise = known[structure]
    rows_per_dk = BIASED_ROWS_PER_DK if structure in BIASED_STRUCTURES else ROWS_PER_DK
    d, parts = make_parts(np.random.default_rng([KNOB_SALT, seed]))
    knobs = []
    for i, (family, k, params) in enumerate(parts, start=1):
        knobs += [(f"p{i}_family", family), (f"p{i}_k", k)] + [(f"p{i}_{name}", value)
                                                               for name, value in params.items()]
    k = sum(part[1] for part in parts)
    return Case(structure, d, k, rows_per_dk * d * k, noise, tuple(knobs), TAG)


def parts_of(case) -> Parts:
    """The recipe recorded in ``case.knobs``: (family, k, params) per part."""
    knobs, parts = dict(case.knobs), []
    i = 1
    while f"p{i}_family" in knobs:
        prefix = f"p{i}_"
        params = {name[len(prefix):]: tuple(v) if isinstance(v, list) else v for name, v in knobs.items()
                  if name.startswith(prefix) and name not in (prefix + "family", prefix + "k")}
        parts.append((knobs[prefix + "family"], int(knobs[prefix + "k"]), params))
        i += 1
    return parts


def build(case, seed: int) -> ReLUNetwork:
    """The planted network of an instance: its parts planted in turn from one generator, then concatenated
    (hidden biases kept; none when no part has them)."""
    rng = np.random.default_rng([BUILD_SALT, seed])
    nets = [planted.make(family, case.d, k, random_state=rng, **params) for family, k, params in parts_of(case)]
    biased = any(n.biases is not None for n in nets)
    biases = np.concatenate([np.zeros(n.k) if n.biases is None else n.biases for n in nets]) if biased else None
    return ReLUNetwork(np.concatenate([n.weights for n in nets]), np.vstack([n.directions for n in nets]),
                       biases=biases)


def plan(seeds: int | None, methods, structures: dict | None = None) -> list[tuple]:
    """(case, seed, methods) for ``seeds`` instances (default ``DEFAULT_SEEDS``) of every structure
    (of ``STRUCTURES`` unless given)."""
    count = DEFAULT_SEEDS if seeds is None else seeds
    runs = []
    for structure in STRUCTURES if structures is None else structures:
        for index in range(count):
            seed = seed_of(structure, index)
            runs.append((draw(structure, seed), seed, list(methods)))
    return runs


def plan_biased(seeds: int | None, methods) -> list[tuple]:
    """:func:`plan` over the structures with hidden biases."""
    return plan(seeds, methods, BIASED_STRUCTURES)


def success(record: dict) -> bool:
    """Noiseless: recovered (exact relative error <= 1e-4); noisy: excess risk <= ``NOISY_SUCCESS`` x the oracle's."""
    if record["noise"]:
        ratio = record.get("ratio_to_oracle")
        return ratio is not None and bool(np.isfinite(ratio)) and ratio <= NOISY_SUCCESS
    return bool(record["recovered"])


def confidence_interval(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson (exact binomial) interval for a success rate (scipy's ``binomtest``)."""
    from scipy.stats import binomtest

    if trials == 0:
        return (0.0, 1.0)
    ci = binomtest(successes, trials).proportion_ci(confidence_level=level, method="exact")
    return (float(ci.low), float(ci.high))
