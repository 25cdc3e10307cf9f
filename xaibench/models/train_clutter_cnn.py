"""Train the demo model shipped as xaibench/models/clutter_cnn.weights.npz.

    .venv/bin/python xaibench/models/train_clutter_cnn.py

The layer stack of xb.zoo.mnist_cnn() (3 x [conv, batch norm, ReLU, max-pool], dense
softmax) with 16/32/64 filters on 48x48 RGB `clutter` images (sklearn digits pasted on
natural-image backgrounds, digit side 45-80 % of the image): 20,000 training images,
12 epochs of Adam (1e-3), seed 0. Test images use digits never seen in training.
Prints the test accuracy (0.80 when it was made). Load it with ``xb.zoo.shipped("clutter")``.
"""
import os
import sys

import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
import xaibench as xb  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
#: the data the demo model expects (also used by xaibench.demo)
DATA = dict(size=48, seed=0, digit_scale=(0.45, 0.8))


def train(path=os.path.join(HERE, "clutter_cnn.weights.npz"), n_train=20000, epochs=12,
          verbose=0):
    train_set, test_set = xb.data.clutter_train_test(n_train=n_train, n_test=500, **DATA)
    tf.keras.utils.set_random_seed(0)
    model = xb.zoo.mnist_cnn(input_shape=(48, 48, 3), filters=(16, 32, 64), name="clutter_cnn")
    model.compile(tf.keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(train_set.x, train_set.y, epochs=epochs, batch_size=64, verbose=verbose)
    accuracy = model.evaluate(test_set.x, test_set.y, verbose=0)[1]
    xb.zoo.save_weights_npz(model, path)   # the weights only: xb.zoo.shipped rebuilds the
    # layers with the zoo builder, on Keras 2 and Keras 3 alike
    return model, float(accuracy)


if __name__ == "__main__":
    model, acc = train(verbose=2)
    print(f"test accuracy {acc:.4f}; saved {os.path.join(HERE, 'clutter_cnn.weights.npz')}")
