"""The playground's "export as Python": a short script that rebuilds and retrains a run.

The script uses only the public API; calling ``fit`` once for all the epochs gives the same
weights as the playground's epoch-by-epoch training (same seed, same shuffles), unless the
backprop inspector took extra single steps.

Example:
    >>> from scratchnn.playground.config import Config
    >>> text = script(Config(problem="xor", hidden=[4]), epochs=3)
    >>> compile(text, "playground_export.py", "exec") is not None
    True
    >>> "epochs=3," in text
    True
"""

from __future__ import annotations

from .config import Config

_OPTIMIZERS = {
    "sgd": "snn.optim.SGD(lr={lr!r})",
    "momentum": "snn.optim.SGD(lr={lr!r}, momentum=0.9)",
    "rmsprop": "snn.optim.RMSProp(lr={lr!r})",
    "adam": "snn.optim.Adam(lr={lr!r})",
    "adamw": "snn.optim.AdamW(lr={lr!r})",
}

_ACTIVATIONS = {
    "tanh": "snn.Tanh()",
    "relu": "snn.ReLU()",
    "sigmoid": "snn.Sigmoid()",
    "linear": "snn.Identity()",
    "leaky_relu": "snn.LeakyReLU()",
    "elu": "snn.ELU()",
    "gelu": "snn.GELU()",
    "silu": "snn.SiLU()",
}


def _layers(config: Config) -> list[str]:
    reg = ""
    if config.regularization != "none" and config.reg_rate:
        reg = f", {config.regularization}={config.reg_rate!r}"
    lines, width = [], len(config.features)
    for size in config.hidden:
        parts = [f"snn.Dense({width}, {size}{reg})"]
        if config.batch_norm:
            parts.append(f"snn.BatchNorm1d({size})")
        parts.append(_ACTIVATIONS[config.activation])
        if config.dropout:
            parts.append(f"snn.Dropout({config.dropout!r})")
        lines.append(", ".join(parts) + ",")
        width = size
    last = f"snn.Dense({width}, 1{reg})"
    if config.kind == "classification" and config.loss == "mse":
        last += ", snn.Sigmoid()"
    lines.append(last + ",")
    return lines


def script(config: Config, epochs: int) -> str:
    """The Python source that retrains ``config`` for ``epochs`` epochs and saves the model.

    Args:
        config: the run's configuration.
        epochs: how many epochs the page trained.

    Returns:
        The script's text; it prints the final losses and writes ``playground_model.npz``.
    """
    if config.kind == "classification" and config.loss == "cross_entropy":
        loss = "snn.losses.BinaryCrossEntropy(from_logits=True)"
    else:
        loss = "snn.losses.MSE()"
    if config.problem == "tutorial-xor":
        split = "n_train = len(X)  # the tutorial trains on all four points"
    else:
        split = f"n_train = max(1, min(len(X) - 1, round(len(X) * {config.train_ratio!r})))"
    layers = "\n".join(f"    {line}" for line in _layers(config))
    epochs_line = max(1, epochs)
    return f'''"""Rebuild and retrain a network from the scratchnn Playground.

Problem {config.problem!r}, {epochs} epoch(s) of {config.optimizer} at lr {config.lr!r}.
"""

import scratchnn as snn
from scratchnn.playground.data import features, make_points

points, y = make_points({config.problem!r}, n={config.n_points}, noise={config.noise!r}, \
seed={config.seed})
X = features(points, {config.features!r})
{split}
X_train, y_train, X_test, y_test = X[:n_train], y[:n_train], X[n_train:], y[n_train:]

model = snn.Sequential([
{layers}
], seed={config.seed})
loss = {loss}
optimizer = {_OPTIMIZERS[config.optimizer].format(lr=config.lr)}
model.fit(X_train, y_train, loss=loss, optimizer=optimizer,
          epochs={epochs_line}, batch_size={config.batch_size}, verbose=0)

train_loss = loss(model.predict(X_train), y_train)
test_loss = loss(model.predict(X_test), y_test) if len(X_test) else float("nan")
print(f"epoch {{model.epochs_trained}}: train loss {{train_loss:.4f}}, test loss {{test_loss:.4f}}")
model.save("playground_model.npz")
'''
