"""``scratchnn train --model cnn`` on a folder of IDX images the test writes, then evaluate,
predict and export of the saved CNN (which takes rows of pixels, as the MLP does); data that is
not square images is refused with the reason."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

import scratchnn as snn
from scratchnn.cli.main import main


def _idx(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def bars(folder: Path) -> Path:
    """16x16 images of a horizontal (class 0) or a vertical (class 1) bar on noise."""
    rng = np.random.default_rng(0)
    folder.mkdir()
    for prefix, n in (("train", 128), ("t10k", 32)):
        y = rng.integers(0, 2, n)
        X = rng.integers(0, 60, (n, 16, 16))
        for i, label in enumerate(y):
            k = rng.integers(2, 14)
            if label:
                X[i, :, k] = 255
            else:
                X[i, k, :] = 255
        (folder / f"{prefix}-images-idx3-ubyte").write_bytes(_idx(X))
        (folder / f"{prefix}-labels-idx1-ubyte").write_bytes(_idx(y))
    return folder


@pytest.mark.slow
def test_train_model_cnn_then_evaluate_and_predict(tmp_path, capsys):
    data = bars(tmp_path / "bars")
    out = tmp_path / "cnn.npz"
    assert main(["train", str(data), "--model", "cnn", "--epochs", "4", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Conv2D(in_channels=1, out_channels=32, kernel_size=5)" in text
    assert "(None, 64, 1, 1)" in text  # 16 -> 12 -> 6 -> 2 -> 1
    accuracy = float(text.split("Test accuracy: ")[1].split("%")[0])
    assert accuracy >= 90
    model = snn.load(out)
    assert isinstance(model.layers[0], snn.Reshape) and model.input_shape == (256,)
    assert main(["evaluate", str(out), str(data)]) == 0
    assert "accuracy" in capsys.readouterr().out
    assert main(["predict", str(out), str(data), "--out", str(tmp_path / "p.csv")]) == 0
    lines = (tmp_path / "p.csv").read_text().splitlines()
    assert lines[0] == "prediction,p_0,p_1" and len(lines) == 33


def test_model_cnn_refuses_images_too_small_and_tables(tmp_path, capsys):
    pytest.importorskip("sklearn", reason="the digits dataset comes with scikit-learn")
    assert main(["train", "digits", "--model", "cnn"]) != 0
    assert "at least 16x16 pixels" in capsys.readouterr().err
    table = tmp_path / "t.csv"
    table.write_text("a,b,y\n1,2,0\n3,4,1\n5,6,0\n7,8,1\n")
    assert main(["train", str(table), "--target", "y", "--model", "cnn"]) != 0
    assert "not on the table" in capsys.readouterr().err
