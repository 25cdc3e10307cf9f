"""Train the demo model shipped as xaibench/models/digits_cnn.weights.npz.

    .venv/bin/python xaibench/models/train_digits_cnn.py

xb.zoo.mnist_cnn() (Anjomshoae et al.'s layer stack: 3 x [conv, batch norm, ReLU,
max-pool], dense softmax) on scikit-learn's digits upsampled to 28x28, 30 epochs of
Adam, seed 0. Prints the test accuracy (0.9889, 445 of 450 test images, when it was
made). Load it with ``xb.zoo.shipped("digits")``.
"""
import os
import sys

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import xaibench as xb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def train(path=os.path.join(HERE, "digits_cnn.weights.npz"), epochs=30, seed=0, verbose=0):
    tf.keras.utils.set_random_seed(seed)
    x_train, y_train, x_test, y_test = xb.data.digits().split()
    model = xb.zoo.mnist_cnn()
    model.compile(tf.keras.optimizers.Adam(3e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(x_train, y_train, epochs=epochs, batch_size=64, verbose=verbose,
              validation_split=0.1)
    accuracy = model.evaluate(x_test, y_test, verbose=0)[1]
    xb.zoo.save_weights_npz(model, path)   # the weights only: xb.zoo.shipped rebuilds the
    # layers with the zoo builder, on Keras 2 and Keras 3 alike
    return model, float(accuracy)


if __name__ == "__main__":
    model, acc = train(verbose=2)
    print(f"test accuracy {acc:.4f}; saved {os.path.join(HERE, 'digits_cnn.weights.npz')}")
    np.testing.assert_array_less(0.9, acc)
