r"""Gradient descent (Adam or SGD) on a width-k network of the learners' own form.

.. math:: \min_{W, \beta, a, c, b}\ \tfrac1n \sum_n \big(y_n - a^T \mathrm{relu}(W x_n + \beta) - c^T x_n - b\big)^2

Minibatch training in PyTorch (float32, the practitioners' default), ``restarts`` random
initialisations (Xavier for W, :math:`N(0, 1/k)` for a, hidden biases :math:`\beta = 0`), best of the
restarts by held-out loss, early stop when ``stop(net)`` says so (a target error) or the time budget
runs out. The random draws come from a ``torch.Generator`` seeded from ``random_state`` (the global
torch RNG is left alone). The budget actually used is recorded in ``net.report``
(a :class:`~narrowrelu.baselines.report.TrainingReport`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from .._validation import RandomState, as_generator, check_positive_int, check_samples
from ..network import ReLUNetwork
from .report import training_report


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - depends on the environment
        raise ImportError('the gradient-descent baseline needs torch: pip install "narrowrelu[torch]"') from None
    return torch


def gradient_descent(
    X,
    y,
    k: int,
    *,
    optimizer: str = "adam",
    lr: float = 3e-3,
    restarts: int = 3,
    epochs: int = 200,
    batch_size: int = 1024,
    biases: bool = True,
    linear_term: bool = False,
    validation_fraction: float = 0.2,
    time_budget: float | None = None,
    stop: Callable[[ReLUNetwork], bool] | None = None,
    init: ReLUNetwork | None = None,
    random_state: RandomState = None,
) -> ReLUNetwork:
    """Train by minibatch Adam or SGD; return the best restart as a ``ReLUNetwork``.

    Parameters
    ----------
    X, y : arrays of shape (n, d) and (n,)
    k : int
        Width.
    optimizer : {'adam', 'sgd'}
    lr : float
        Learning rate (tune it once per family on a separate seed).
    restarts : int
        Random initialisations; the best by held-out loss is returned.
    epochs, batch_size : int
    biases : bool
        Train hidden biases :math:`\beta` (started at zero), so that biased networks are in the
        student's class.
    linear_term : bool
        Train a linear skip term and bias as well.
    time_budget : float or None
        Seconds for all restarts together.
    stop : callable or None
        Called with the current network after every epoch; ``True`` ends training (the
        benchmark passes an exact-error target here).
    random_state : int, Generator, RandomState instance or None

    Returns
    -------
    ReLUNetwork
        With ``report`` a :class:`~narrowrelu.baselines.report.TrainingReport` whose "train" stage
        records the epochs run, seconds, restarts run, held-out losses (``validation_mse``), whether
        ``stop`` fired and after how many seconds (``stopped_at_seconds``).
    init : ReLUNetwork or None
        Start the first restart here (a tensor initialisation, say) instead of at random.
    """
    torch = _torch()
    X, y = check_samples(X, y)
    k = check_positive_int(k, "k")
    if optimizer not in ("adam", "sgd"):
        raise ValueError(f"optimizer must be 'adam' or 'sgd', got {optimizer!r}")
    rng = as_generator(random_state)
    generator = torch.Generator().manual_seed(int(rng.integers(2**31)))
    n, d = X.shape
    order = rng.permutation(n)
    n_val = max(1, int(validation_fraction * n))
    Xt = torch.tensor(X[order[n_val:]], dtype=torch.float32)
    yt = torch.tensor(y[order[n_val:]], dtype=torch.float32)
    Xv, yv = X[order[:n_val]], y[order[:n_val]]
    start = time.perf_counter()
    best, best_loss, history, epochs_run, stopped_at = None, np.inf, [], 0, None
    for restart in range(restarts):
        if restart == 0 and init is not None:
            if init.k != k or init.d != d:
                raise ValueError(f"init has k={init.k}, d={init.d}; expected k={k}, d={d}")
            if init.biases is not None and not biases:
                raise ValueError("init has hidden biases but biases=False: pass biases=True to train them")
            W = torch.nn.Parameter(torch.tensor(init.directions, dtype=torch.float32))
            a = torch.nn.Parameter(torch.tensor(init.weights, dtype=torch.float32))
            beta = torch.nn.Parameter(torch.zeros(k) if init.biases is None else
                                      torch.tensor(init.biases, dtype=torch.float32))
        else:
            W = torch.nn.Parameter(torch.randn(k, d, generator=generator) * np.sqrt(2.0 / (d + k)))
            a = torch.nn.Parameter(torch.randn(k, generator=generator) / np.sqrt(k))
            beta = torch.nn.Parameter(torch.zeros(k))
        c = torch.nn.Parameter(torch.zeros(d))
        b = torch.nn.Parameter(torch.zeros(()))
        params = [W, a] + ([beta] if biases else []) + ([c, b] if linear_term else [])
        opt = torch.optim.Adam(params, lr=lr) if optimizer == "adam" else torch.optim.SGD(params, lr=lr)
        for _ in range(epochs):
            perm = torch.randperm(len(yt), generator=generator)
            for lo in range(0, len(yt), batch_size):
                idx = perm[lo : lo + batch_size]
                xb = Xt[idx]
                pred = torch.relu(xb @ W.T + (beta if biases else 0.0)) @ a + (xb @ c + b if linear_term else 0.0)
                loss = torch.mean((pred - yt[idx]) ** 2)
                opt.zero_grad()
                loss.backward()
                opt.step()
            epochs_run += 1
            net = _network(W, a, beta if biases else None, c, b, linear_term)
            out_of_time = time_budget is not None and time.perf_counter() - start > time_budget
            if stop is not None and stop(net):
                stopped_at = time.perf_counter() - start
            if stopped_at is not None or out_of_time:
                break
        net = _network(W, a, beta if biases else None, c, b, linear_term)
        val = float(np.mean((net.predict(Xv) - yv) ** 2))
        history.append(val)
        if val < best_loss:
            best, best_loss = net, val
        if stopped_at is not None or (time_budget is not None and time.perf_counter() - start > time_budget):
            break
    best.report = training_report(
        f"torch-{optimizer}", n - n_val, yv, d, k, time.perf_counter() - start, best_loss,
        {"optimizer": optimizer, "lr": lr, "epochs": epochs, "restarts": restarts, "batch_size": batch_size,
         "biases": biases, "linear_term": linear_term, "validation_fraction": validation_fraction,
         "time_budget": time_budget},
        epochs=epochs_run, restarts=len(history), validation_mse=history, stopped_at_seconds=stopped_at)
    return best


#: Learning rates tried by :func:`tune_learning_rate`.
LR_GRID = (1e-3, 3e-3, 1e-2, 3e-2, 1e-1)


def tune_learning_rate(X, y, k: int, *, grid=LR_GRID, epochs: int = 40, optimizer: str = "adam",
                       random_state: RandomState = None) -> tuple[float, dict[float, float]]:
    """The learning rate of ``grid`` with the lowest held-out loss after ``epochs`` (one restart each).

    Tune on data from a separate seed, never on the data the comparison runs on.
    """
    losses = {lr: gradient_descent(X, y, k, optimizer=optimizer, lr=lr, epochs=epochs, restarts=1,
                                   random_state=random_state).report.stages[-1]["validation_mse"][0]
              for lr in grid}
    return min(losses, key=losses.get), losses


def _network(W, a, beta, c, b, linear_term: bool) -> ReLUNetwork:
    numpy = lambda t: t.detach().double().numpy()  # noqa: E731
    linear = numpy(c) if linear_term else None
    return student_network(numpy(a), numpy(W), None if beta is None else numpy(beta), linear,
                           float(b.detach()) if linear_term else 0.0)


def student_network(weights, directions, biases, linear, intercept: float) -> ReLUNetwork:
    r"""A trained student :math:`a^T\mathrm{relu}(Wx + \beta) + c^Tx + b` as a ``ReLUNetwork``.

    A neuron whose row of W is zero is the constant :math:`a_i\,\mathrm{relu}(\beta_i)`: it is folded
    into the intercept (a ``ReLUNetwork`` has non-zero directions).
    """
    keep = np.linalg.norm(directions, axis=1) > 0
    if biases is not None:
        intercept += float(weights[~keep] @ np.maximum(biases[~keep], 0.0))
        biases = biases[keep]
    return ReLUNetwork(weights[keep], directions[keep], linear, intercept, biases)
