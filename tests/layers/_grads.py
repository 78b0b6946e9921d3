"""Outputs and gradients of a Keras layer on whichever backend runs the tests.

The numerics tests compare rnn_zoo's layers with Keras's and PyTorch's; each
side is reduced to the same scalar, ``sum_i sum(output_i * cotangent_i)``, whose
gradient is then a vector-Jacobian product with fixed random cotangents: every
output element and every state reaches the gradient with its own weight.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops, tree


def cotangent(index: int, shape) -> np.ndarray:
    """The fixed random weights of output ``index`` in the scalar loss."""
    rng = np.random.default_rng(1000 + index)
    return rng.standard_normal(tuple(shape))


def finite_differences(loss, arrays, eps: float) -> list[np.ndarray]:
    """d loss() / d every entry of each array in ``arrays``, by central
    differences: each entry is moved by +-``eps`` in place (``loss`` reads the
    arrays) and put back."""
    grads = []
    for array in arrays:
        grad = np.zeros_like(array)
        for index in np.ndindex(array.shape):
            saved = array[index]
            array[index] = saved + eps
            plus = loss()
            array[index] = saved - eps
            minus = loss()
            array[index] = saved
            grad[index] = (plus - minus) / (2 * eps)
        grads.append(grad)
    return grads


def _loss(outputs):
    total = 0.0
    for i, output in enumerate(outputs):
        weight = ops.convert_to_tensor(cotangent(i, output.shape), dtype=output.dtype)
        total = total + ops.sum(output * weight)
    return total


def _flat(outputs) -> list:
    return tree.flatten(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def value_and_grads(layer, forward, inputs, compiled=False):
    """Runs ``forward(call, *inputs)`` and differentiates it.

    Args:
        layer: a built Keras layer.
        forward: ``forward(call, *tensors)`` returning a tensor or a (nested)
            list of tensors; ``call(*args, **kwargs)`` calls ``layer``.
            Anything not to be differentiated (masks) is closed over.
        inputs: the NumPy arrays to differentiate with respect to.
        compiled: run in a ``tf.function`` or under ``jax.jit``, as
            ``fit()`` does; otherwise eagerly (op by op on JAX, where
            compiling every small scan costs more than running it). No
            effect on PyTorch.

    Returns:
        ``(outputs, input_grads, weight_grads)`` as lists of NumPy arrays;
        ``weight_grads`` follows ``layer.trainable_weights``.
    """
    backend = keras.backend.backend()
    if backend == "tensorflow":
        return _tensorflow(layer, forward, inputs, compiled)
    if backend == "jax":
        return _jax(layer, forward, inputs, compiled)
    if backend == "torch":
        return _torch(layer, forward, inputs)
    raise NotImplementedError(f"No gradient helper for backend {backend!r}")


def _tensorflow(layer, forward, inputs, compiled):
    import tensorflow as tf

    def outputs_and_grads(tensors):
        with tf.GradientTape() as tape:
            tape.watch(tensors)
            outputs = _flat(forward(layer, *tensors))
            loss = _loss(outputs)
        return outputs, tape.gradient(loss, tensors + list(layer.trainable_variables))

    if compiled:
        outputs_and_grads = tf.function(outputs_and_grads)
    tensors = [tf.convert_to_tensor(x) for x in inputs]
    outputs, grads = outputs_and_grads(tensors)
    grads = [ops.convert_to_numpy(g) for g in grads]
    outputs = [ops.convert_to_numpy(o) for o in outputs]
    return outputs, grads[: len(tensors)], grads[len(tensors) :]


def _jax(layer, forward, inputs, compiled):
    import jax

    trainable = [v.value for v in layer.trainable_variables]
    non_trainable = [v.value for v in layer.non_trainable_variables]

    def loss_fn(trainable, tensors):
        def call(*args, **kwargs):
            outputs, _ = layer.stateless_call(trainable, non_trainable, *args, **kwargs)
            return outputs

        outputs = _flat(forward(call, *tensors))
        return _loss(outputs), outputs

    grad_fn = jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True)
    tensors = [jax.numpy.asarray(x) for x in inputs]
    if compiled:
        (_, outputs), (weight_grads, input_grads) = jax.jit(grad_fn)(trainable, tensors)
    else:
        with jax.disable_jit():
            (_, outputs), (weight_grads, input_grads) = grad_fn(trainable, tensors)
    to_numpy = ops.convert_to_numpy
    return (
        [to_numpy(o) for o in outputs],
        [to_numpy(g) for g in input_grads],
        [to_numpy(g) for g in weight_grads],
    )


def _torch(layer, forward, inputs):
    import torch

    tensors = [ops.convert_to_tensor(x) for x in inputs]
    for tensor in tensors:
        tensor.requires_grad_(True)
    weights = [v.value for v in layer.trainable_variables]
    outputs = _flat(forward(layer, *tensors))
    grads = torch.autograd.grad(_loss(outputs), tensors + weights)
    to_numpy = ops.convert_to_numpy
    return (
        [to_numpy(o) for o in outputs],
        [to_numpy(g) for g in grads[: len(tensors)]],
        [to_numpy(g) for g in grads[len(tensors) :]],
    )
