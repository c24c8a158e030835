"""gaussmix quickstart: the handbook's first steps with a Gaussian mixture."""

import numpy as np
from sklearn.datasets import make_blobs

from gaussmix import GaussianMixture

# Four blobs, as in the handbook, stretched so that circles (k-means) fit them badly.
X, y_true = make_blobs(n_samples=400, centers=4, cluster_std=0.60, random_state=0)
X = X[:, ::-1]
X_stretched = np.dot(X, np.random.RandomState(13).randn(2, 2))

gmm = GaussianMixture(n_components=4, random_state=42).fit(X_stretched)
labels = gmm.predict(X_stretched)  # hard assignment
probs = gmm.predict_proba(X_stretched)  # soft assignment
print("cluster sizes:", np.bincount(labels))
print("first rows of predict_proba:\n", probs[:5].round(3))

# The mixture is a density: score new points, draw new ones.
print("mean log-likelihood:", round(gmm.score(X_stretched), 4))
X_new, component = gmm.sample(400, random_state=0)
print("sampled", X_new.shape, "points")

# How many components? The lowest BIC.
bic = {n: GaussianMixture(n, random_state=0).fit(X_stretched).bic(X_stretched) for n in range(1, 9)}
print("BIC picks", min(bic, key=bic.get), "components")
