"""Handwritten digits (8x8 images, 10 classes; shipped with scikit-learn) with
the Keras-style API: a progress bar, early stopping on the validation loss with
the best weights restored, a cosine learning-rate schedule, and the training
curves saved to a PNG when matplotlib is installed.

    python examples/digits_classification.py [--epochs 60] [--plot digits.png]
"""

from __future__ import annotations

import argparse

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import mlpcore as mc
from mlpcore.callbacks import CosineDecay, EarlyStopping, LearningRateScheduler


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--plot", default=None, help="save the loss/accuracy curves to this file")
    parser.add_argument("--verbose", type=int, default=1)
    args = parser.parse_args(argv)

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)  # pixels are 0..16
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, stratify=y, random_state=0)
    X_train, X_val, y_train, y_val = train_test_split(X_train, y_train, test_size=0.2, stratify=y_train,
                                                      random_state=0)

    model = mc.Sequential([mc.Dense(128, activation="relu"),
                           mc.Dense(64, activation="relu"),
                           mc.Dense(10, activation="softmax")], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=mc.SGD(lr=0.05, momentum=0.9))
    history = model.fit(X_train, y_train, epochs=args.epochs, batch_size=32,
                        validation_data=(X_val, y_val), verbose=args.verbose,
                        callbacks=[EarlyStopping(monitor="val_loss", patience=8, restore_best_weights=True),
                                   LearningRateScheduler(CosineDecay(0.05, epochs=args.epochs))])
    model.summary()
    test = model.evaluate(X_test, y_test)
    print(f"epochs run: {len(history.epoch)}, test loss {test['loss']:.4f}, test accuracy {test['accuracy']:.4f}")
    if args.plot:
        mc.plot_history(history, args.plot)
        print(f"curves saved to {args.plot}")
    return {"test_accuracy": test["accuracy"], "epochs": len(history.epoch), "history": history}


if __name__ == "__main__":
    main()
