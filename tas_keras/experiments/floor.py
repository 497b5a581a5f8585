"""The accuracy floor of a study: a linear classifier on the raw pixels of the same training images.
A student that does not beat it has not learnt anything a linear model could not."""

from tas_keras.data import OFFLINE_DATASETS, offline_arrays, stratified_subset

FLOOR_METHOD = "scikit-learn LogisticRegression(C=0.1) on the grey pixels / 255 of the same training images, full test split"


def logistic_regression_top1(dataset, train_subset=None, data_dir=None):
    """Top-1 (%) on the test split, or None for datasets that do not ship on this machine (tfds, folders:
    too large to fit in memory as pixels)."""
    if dataset not in OFFLINE_DATASETS:
        return None
    from sklearn.linear_model import LogisticRegression

    x, y = offline_arrays(dataset, "train", data_dir)
    if train_subset:
        keep = stratified_subset(y, min(train_subset, len(y)))  # the students' subset (same function, same seed)
        x, y = x[keep], y[keep]
    x_test, y_test = offline_arrays(dataset, "test", data_dir)
    flat = lambda images: images[..., 0].reshape(len(images), -1) / 255.0  # grey images stored as RGB
    model = LogisticRegression(C=0.1, max_iter=2000).fit(flat(x), y)
    return 100.0 * float((model.predict(flat(x_test)) == y_test).mean())
