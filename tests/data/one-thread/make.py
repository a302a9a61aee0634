"""Writes mlp_100_adam_steps.npy: the weights after 100 Adam steps (float64), made with the code
from before fit could train on several threads (commit 6ab5219~1). tests/test_sharded.py checks
that threads=1 (and the default, for this small model) still gives exactly these weights.

Run, from a checkout of that commit:
    PYTHONPATH=src python tests/data/one-thread/make.py mlp_100_adam_steps.npy
"""

import sys

import numpy as np

import scratchnn as snn


def main(path: str) -> None:
    rng = np.random.default_rng(7)
    X = rng.normal(size=(640, 20))
    y = (X[:, :3].sum(1) > 0).astype(int) + (X[:, 3] > 1)
    model = snn.MLP([20, 64, 32, 3], seed=11, dtype=np.float64)
    model.fit(X, y, loss="ce", optimizer="adam", epochs=10, batch_size=64, verbose=0)  # 100 steps
    np.save(path, model.get_weights())


if __name__ == "__main__":
    main(sys.argv[1])
