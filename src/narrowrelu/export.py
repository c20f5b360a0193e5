r"""Export a :class:`~narrowrelu.ReLUNetwork` to PyTorch and to ONNX.

Both compute :math:`f(x) = a^T\mathrm{relu}(Ux + \beta) + c^Tx + b` with ``U = directions``, ``beta = biases``,
``a = weights``, ``c = linear`` (omitted when None) and ``b = intercept``, in float64 by
default so that predictions match :meth:`ReLUNetwork.predict` to rounding.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .network import ReLUNetwork

__all__ = ["to_torch", "to_onnx"]


def to_torch(net: ReLUNetwork, dtype=None):
    """A ``torch.nn.Module`` mapping inputs (n, d) to predictions (n,).

    Parameters
    ----------
    net : ReLUNetwork
    dtype : torch dtype, default torch.float64
    """
    try:
        import torch
    except ImportError:
        raise ImportError('to_torch needs torch: pip install "narrowrelu[torch]"') from None

    class ReLUNetworkModule(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = torch.nn.Linear(net.d, net.k, bias=net.biases is not None)
            self.output = torch.nn.Linear(net.k, 1, bias=True)
            self.skip = torch.nn.Linear(net.d, 1, bias=False) if net.linear is not None else None

        def forward(self, x):
            out = self.output(torch.relu(self.hidden(x)))
            if self.skip is not None:
                out = out + self.skip(x)
            return out.squeeze(-1)

    module = ReLUNetworkModule().to(dtype or torch.float64)
    with torch.no_grad():
        module.hidden.weight.copy_(torch.from_numpy(net.directions))
        if net.biases is not None:
            module.hidden.bias.copy_(torch.from_numpy(net.biases))
        module.output.weight.copy_(torch.from_numpy(net.weights[None, :]))
        module.output.bias.fill_(net.intercept)
        if module.skip is not None:
            module.skip.weight.copy_(torch.from_numpy(net.linear[None, :]))
    return module.eval()


def to_onnx(net: ReLUNetwork, path, dtype=np.float64) -> Path:
    """Write the network as an ONNX model (input ``x`` (n, d), output ``y`` (n,)) to ``path``.

    Parameters
    ----------
    net : ReLUNetwork
    path : str or Path
    dtype : numpy.float64 (default) or numpy.float32
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ImportError('to_onnx needs onnx: pip install "narrowrelu[onnx]"') from None
    elem = {np.dtype(np.float64): TensorProto.DOUBLE, np.dtype(np.float32): TensorProto.FLOAT}[np.dtype(dtype)]
    const = lambda name, value: numpy_helper.from_array(np.asarray(value, dtype=dtype), name)  # noqa: E731
    inits = [const("U", net.directions.T.reshape(net.d, net.k)), const("a", net.weights.reshape(net.k, 1)),
             const("b", [net.intercept]), numpy_helper.from_array(np.array([-1], dtype=np.int64), "flat")]
    nodes = [helper.make_node("MatMul", ["x", "U"], ["h0"])]
    if net.biases is not None:
        inits.append(const("beta", net.biases))
        nodes.append(helper.make_node("Add", ["h0", "beta"], ["h"]))
    else:
        nodes.append(helper.make_node("Identity", ["h0"], ["h"]))
    nodes += [helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "a"], ["ra"])]
    last = "ra"
    if net.linear is not None:
        inits.append(const("c", net.linear.reshape(net.d, 1)))
        nodes += [helper.make_node("MatMul", ["x", "c"], ["xc"]), helper.make_node("Add", ["ra", "xc"], ["s"])]
        last = "s"
    nodes += [helper.make_node("Add", [last, "b"], ["o"]), helper.make_node("Reshape", ["o", "flat"], ["y"])]
    graph = helper.make_graph(nodes, "narrowrelu", [helper.make_tensor_value_info("x", elem, [None, net.d])],
                              [helper.make_tensor_value_info("y", elem, [None])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="narrowrelu")
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return Path(path)
