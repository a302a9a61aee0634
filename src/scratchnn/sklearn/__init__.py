"""scikit-learn estimators: ``MLPClassifier`` and ``MLPRegressor`` backed by scratchnn.

A drop-in replacement for ``sklearn.neural_network.MLPClassifier``/``MLPRegressor``: the same
parameters with the same meaning (solvers ``lbfgs``/``sgd``/``adam``, learning-rate schedules,
loss scaling, stopping rules, ``warm_start``, ``partial_fit``), the same fitted attributes,
the same errors, sparse input, and for the same ``random_state`` the same initial weights and
batch order. scikit-learn's own MLP test file passes against them (see ``docs/sklearn.md``).
Beyond scikit-learn's MLP they offer ``class_weight``, dropout, batch normalization, an
activation per hidden layer, leaky ReLU/GELU/ELU/SiLU, MAE and Huber losses, AdamW/RMSProp/
Adagrad, float32 training, the validation loss per epoch and a safe file format.

Example:
    >>> from sklearn.datasets import load_iris
    >>> from scratchnn.sklearn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(16,), solver="lbfgs", random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.95
    True

scikit-learn (and scipy, which it brings) is imported by this package
(``pip install 'scratchnn[sklearn]'``); the rest of scratchnn never imports it.
"""

from ._estimators import MLPClassifier, MLPRegressor

__all__ = ["MLPClassifier", "MLPRegressor"]
