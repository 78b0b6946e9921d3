"""The mask patterns the kernel tests run every fast path under.

``MASKS`` holds boolean ``(3, 6)`` masks (batch 3, 6 timesteps): no mask,
right padding, left padding, holes anywhere, and a row with no real step
(which keeps its initial state).
"""

import numpy as np

MASKS = {
    "none": None,
    "right": np.array([[1] * 6, [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]], bool),
    "left": np.array([[1] * 6, [0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]], bool),
    "holes": np.array(
        [[1, 0, 1, 1, 0, 1], [0, 1, 1, 0, 1, 0], [1, 1, 0, 0, 1, 1]], bool
    ),
    # A row with no real step keeps its initial state.
    "empty_row": np.array([[0] * 6, [1, 0, 1, 1, 0, 1], [1] * 6], bool),
}
