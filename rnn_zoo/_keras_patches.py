"""Three fixes to Keras's trainers for models that hold rnn_zoo layers.

Installed once when :mod:`rnn_zoo.layers` is imported; a model without an
rnn_zoo layer takes Keras's own code path unchanged, and so does every
successful call.

- **An empty batch.** ``model.predict`` on arrays with no rows fails inside
  Keras on every backend (``UnboundLocalError`` on ``batch_outputs``). For a
  model with rnn_zoo layers it returns the model's outputs for zero rows:
  arrays of the right shape and dtype with a first dimension of 0.
- **A step function that failed is traced again.** On TensorFlow a ``fit``
  whose first step raised (a batch of the wrong shape) left a half-traced
  ``tf.function`` behind, and every later ``fit`` failed with "Creating
  variables on a non-first call". After an error the compiled step functions
  are dropped, so the next call builds them afresh.
- **Weights kept through an error on JAX.** Keras's JAX trainer detaches
  every variable's value while ``fit``/``evaluate``/``predict`` run, hands the
  values to the compiled step (which consumes its input buffers) and writes
  the loop's state back only when the loop ends. An exception inside a step
  (a refused token id, a bad batch) skipped that, and the next call failed
  with ``'NoneType' object is not callable``. The fix copies the values
  first and restores them on an error: the model is as it was before the
  call.
"""

from __future__ import annotations

import functools

import keras
import numpy as np

_INSTALLED = False


def has_rnn_zoo_layers(model) -> bool:
    """Whether any layer of ``model`` (nested included) is one of rnn_zoo's."""
    return any(
        type(layer).__module__.startswith("rnn_zoo.")
        for layer in model._flatten_layers(include_self=False)
    )


def _is_empty_batch(x) -> bool:
    """``x`` is arrays (a structure of them) that all have 0 rows."""
    leaves = keras.tree.flatten(x)
    if not leaves:
        return False
    for leaf in leaves:
        shape = getattr(leaf, "shape", None)
        if shape is None or isinstance(leaf, (str, bytes)):
            return False
        if len(shape) == 0 or shape[0] != 0:
            return False
    return True


def _empty_predict(predict):
    @functools.wraps(predict)
    def run(self, x, *args, **kwargs):
        if _is_empty_batch(x) and has_rnn_zoo_layers(self):
            outputs = self(x, training=False)
            return keras.tree.map_structure(
                lambda t: np.asarray(keras.ops.convert_to_numpy(t)), outputs
            )
        return predict(self, x, *args, **kwargs)

    return run


def _recovering(method):
    """Drops the compiled step functions after an error (and on JAX puts the
    weights back)."""
    jax = keras.backend.backend() == "jax"
    if jax:
        import jax.numpy as jnp

    def every_variable(model) -> list:
        variables = list(model.variables) + list(model.metrics_variables)
        if getattr(model, "optimizer", None) is not None:
            variables += list(model.optimizer.variables)
        return variables

    @functools.wraps(method)
    def run(self, *args, **kwargs):
        if not has_rnn_zoo_layers(self):
            return method(self, *args, **kwargs)
        kept = {}
        if jax:
            kept = {
                id(v): jnp.copy(v._value)
                for v in every_variable(self)
                if v._value is not None
            }
        try:
            return method(self, *args, **kwargs)
        except BaseException:
            self.train_function = None
            self.test_function = None
            self.predict_function = None
            if jax:
                for variable in every_variable(self):
                    if id(variable) in kept:
                        variable._value = kept[id(variable)]
                    elif variable._value is None:
                        # Built during this call (optimizer slots, metric
                        # totals): back to where a new one starts.
                        variable._value = jnp.zeros(variable.shape, variable.dtype)
                self._jax_state = None
                self._jax_state_synced = True
            raise

    return run


def _owner(name: str) -> type:
    """The class in ``keras.Model``'s MRO that defines ``name``."""
    return next(cls for cls in keras.Model.__mro__ if name in vars(cls))


def install() -> None:
    """Installs the fixes (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    for name in ("fit", "evaluate", "predict"):
        owner = _owner(name)
        setattr(owner, name, _recovering(vars(owner)[name]))
    owner = _owner("predict")
    owner.predict = _empty_predict(vars(owner)["predict"])
    _INSTALLED = True
