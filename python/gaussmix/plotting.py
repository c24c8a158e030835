"""Figures of the Python Data Science Handbook's Gaussian-mixture chapter, as functions.

matplotlib is an optional dependency (``pip install "gaussmix[plot]"``); it is
imported when a function here is first called. Every function draws on the
``ax`` it is given (default: the current axes), returns it, and works with any
backend, including the non-interactive ``Agg``:

* :func:`draw_ellipse` / :func:`draw_ellipses` -- 1, 2 and 3 sigma covariance
  ellipses of one Gaussian / of every component of a fitted mixture, for every
  ``covariance_type``;
* :func:`plot_mixture` -- a fitted mixture over 2-D data, coloured by label or
  with point size showing the certainty of the assignment;
* :func:`plot_kmeans` -- k-means labels with the circle each centre claims;
* :func:`plot_criteria` -- AIC/BIC/CV curves of a :class:`~gaussmix.model_selection.SweepResult`;
* :func:`plot_digits` -- a grid of 8x8 digit images (takes ``fig=``/``axes=``).
"""

import numpy as np

__all__ = [
    "component_covariances",
    "draw_ellipse",
    "draw_ellipses",
    "plot_criteria",
    "plot_digits",
    "plot_kmeans",
    "plot_mixture",
]

_CRITERION_LABELS = {"aic": "AIC", "bic": "BIC", "cv": "CV log-likelihood"}


def _pyplot():
    """Import matplotlib.pyplot, or explain how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - exercised only without matplotlib
        raise ImportError(
            "gaussmix.plotting needs matplotlib, an optional dependency: "
            "pip install 'gaussmix[plot]' (or pip install matplotlib)"
        ) from exc
    return plt


def _axes(ax):
    return _pyplot().gca() if ax is None else ax


def component_covariances(model, dims=(0, 1)):
    """Full covariance matrix of every component, whatever the covariance type.

    Parameters
    ----------
    model : fitted GaussianMixture or AutoGaussianMixture
    dims : sequence of int, default=(0, 1)
        Features to keep (the marginal covariance over them); ``None`` keeps all.

    Returns
    -------
    covariances : ndarray of shape (n_components, len(dims), len(dims))

    Examples
    --------
    >>> import numpy as np
    >>> from gaussmix import GaussianMixture
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> model = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X)
    >>> component_covariances(model).shape
    (2, 2, 2)
    """
    covariance_type = getattr(model, "covariance_type_", model.covariance_type)
    covariances = np.asarray(model.covariances_, dtype=float)
    n_components, n_features = np.shape(model.means_)
    if covariance_type == "full":
        full = covariances
    elif covariance_type == "tied":
        full = np.broadcast_to(covariances, (n_components, n_features, n_features))
    elif covariance_type == "diag":
        full = covariances[:, :, None] * np.eye(n_features)
    elif covariance_type == "spherical":
        full = covariances[:, None, None] * np.eye(n_features)
    else:
        raise ValueError(f"unknown covariance_type {covariance_type!r}")
    if dims is None:
        return np.array(full)
    dims = list(dims)
    return np.array(full[:, dims][:, :, dims])


def draw_ellipse(position, covariance, ax=None, n_sigma=(1, 2, 3), **kwargs):
    """Draw the ``n_sigma`` ellipses of a 2-D Gaussian.

    The ``k``-sigma ellipse has semi-axes ``k * sqrt(lambda)`` along the
    eigenvectors of the covariance (the chapter's ``draw_ellipse``).

    Parameters
    ----------
    position : array-like of shape (2,)
        Centre (the mean).
    covariance : array-like of shape (2, 2), (2,) or scalar
        Full matrix, diagonal, or one variance for both axes.
    ax : matplotlib Axes, default=None
    n_sigma : sequence of float, default=(1, 2, 3)
        Ellipses to draw, in standard deviations.
    **kwargs
        Passed to :class:`matplotlib.patches.Ellipse` (``alpha``, ``fc``, ...).

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> ax = draw_ellipse([0, 0], [[2.0, 0.5], [0.5, 1.0]], alpha=0.2)
    >>> len(ax.patches)
    3
    """
    _pyplot()
    from matplotlib.patches import Ellipse

    ax = _axes(ax)
    covariance = np.asarray(covariance, dtype=float)
    if covariance.ndim < 2:
        covariance = np.broadcast_to(covariance, (2,)) * np.eye(2)
    eigenvalues, eigenvectors = np.linalg.eigh(covariance)
    major = eigenvectors[:, 1]
    angle = np.degrees(np.arctan2(major[1], major[0]))
    width, height = 2 * np.sqrt(np.maximum(eigenvalues[::-1], 0.0))
    for k in n_sigma:
        ax.add_patch(Ellipse(tuple(position), k * width, k * height, angle=angle, **kwargs))
    return ax


def draw_ellipses(model, ax=None, n_sigma=(1, 2, 3), dims=(0, 1), max_alpha=0.2, **kwargs):
    """Draw the covariance ellipses of every component of a fitted mixture.

    Works for every ``covariance_type`` (``full``, ``tied``, ``diag``,
    ``spherical``). As in the chapter, a component's opacity is proportional to
    its weight, the heaviest drawn with ``max_alpha``.

    Parameters
    ----------
    model : fitted GaussianMixture or AutoGaussianMixture
    ax : matplotlib Axes, default=None
    n_sigma : sequence of float, default=(1, 2, 3)
    dims : pair of int, default=(0, 1)
        The two features to draw (marginal means and covariances).
    max_alpha : float, default=0.2
    **kwargs
        Passed to :class:`matplotlib.patches.Ellipse`.

    Returns
    -------
    ax : matplotlib Axes
        With ``n_components * len(n_sigma)`` new ellipse patches.
    """
    ax = _axes(ax)
    weights = np.asarray(model.weights_, dtype=float)
    means = np.asarray(model.means_, dtype=float)[:, list(dims)]
    alpha_per_weight = max_alpha / weights.max()
    for mean, covariance, weight in zip(means, component_covariances(model, dims), weights):
        draw_ellipse(mean, covariance, ax=ax, n_sigma=n_sigma,
                     alpha=weight * alpha_per_weight, **kwargs)
    return ax


def plot_mixture(model, X, *, label=True, certainty=False, ellipses=True, ax=None,
                 size=None, cmap="viridis", dims=(0, 1)):
    """Scatter 2-D data under a fitted mixture (the chapter's ``plot_gmm``).

    Parameters
    ----------
    model : fitted GaussianMixture or AutoGaussianMixture
    X : array-like of shape (n_samples, n_features)
    label : bool, default=True
        Colour points by their predicted component; else one colour.
    certainty : bool, default=False
        Make point size show the certainty of the assignment:
        ``size * max_k p(k | x) ** 2``, the chapter's ``50 * probs.max(1) ** 2``
        with the default size.
    ellipses : bool, default=True
        Draw the components' 1-3 sigma ellipses (:func:`draw_ellipses`).
    ax : matplotlib Axes, default=None
    size : float, default=None
        Marker size (points^2): 40, or 50 at full certainty when ``certainty``.
    cmap : str, default="viridis"
    dims : pair of int, default=(0, 1)

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    X = np.asarray(X)
    points = X[:, list(dims)]
    colour = {"c": model.predict(X), "cmap": cmap} if label else {}
    if certainty:
        size = 50 if size is None else size
        size = size * model.predict_proba(X).max(axis=1) ** 2
    elif size is None:
        size = 40
    ax.scatter(points[:, 0], points[:, 1], s=size, zorder=2, **colour)
    ax.axis("equal")
    if ellipses:
        draw_ellipses(model, ax=ax, dims=dims)
    return ax


def plot_kmeans(kmeans, X, ax=None, cmap="viridis"):
    """Plot k-means labels and the circle each centre claims (the chapter's ``plot_kmeans``).

    Each circle is centred on a cluster centre with the radius of that cluster's
    most distant training point: the hard, circular boundary k-means imposes.

    Parameters
    ----------
    kmeans : sklearn.cluster.KMeans
        Fitted on ``X`` here if not fitted yet.
    X : array-like of shape (n_samples, 2)
    ax : matplotlib Axes, default=None
    cmap : str, default="viridis"

    Returns
    -------
    ax : matplotlib Axes
        With one circle patch per cluster.
    """
    plt = _pyplot()
    ax = _axes(ax)
    X = np.asarray(X)
    labels = kmeans.predict(X) if hasattr(kmeans, "cluster_centers_") else kmeans.fit_predict(X)
    ax.axis("equal")
    ax.scatter(X[:, 0], X[:, 1], c=labels, s=40, cmap=cmap, zorder=2)
    for i, centre in enumerate(kmeans.cluster_centers_):
        members = X[labels == i]
        radius = np.sqrt(((members - centre) ** 2).sum(axis=1).max()) if len(members) else 0.0
        ax.add_patch(plt.Circle(centre, radius, fc="#CCCCCC", lw=3, alpha=0.5, zorder=1))
    return ax


def plot_criteria(result, criteria=None, ax=None):
    """Plot criteria of a sweep against ``n_components``.

    One line per criterion and covariance type. When ``"cv"`` (a log-likelihood,
    higher is better) is drawn together with AIC/BIC (lower is better), it goes
    on a twin y axis on the right; a single legend lists every line.

    Parameters
    ----------
    result : SweepResult
    criteria : sequence of str, default=None
        Default every criterion the sweep scored.
    ax : matplotlib Axes, default=None

    Returns
    -------
    ax : matplotlib Axes
        The main axes (AIC/BIC, or CV when it is drawn alone).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import make_moons
    >>> from gaussmix.model_selection import sweep
    >>> X, _ = make_moons(200, noise=0.05, random_state=0)
    >>> ax = plot_criteria(sweep(X, range(1, 6), random_state=0))
    >>> [line.get_label() for line in ax.get_lines()]
    ['AIC', 'BIC']
    """
    ax = _axes(ax)
    criteria = list(result.criteria if criteria is None else criteria)
    types = list(dict.fromkeys(result.table["covariance_type"]))
    cv_ax = ax.twinx() if "cv" in criteria and len(criteria) > 1 else ax
    for name in criteria:
        target = cv_ax if name == "cv" else ax
        for covariance_type in types:
            n_components, values = result.curve(name, covariance_type)
            label = _CRITERION_LABELS[name]
            if len(types) > 1:
                label += f" ({covariance_type})"
            style = "--" if target is not ax else "-"
            target.plot(n_components, values, style, label=label)
    ax.set_xlabel("n_components")
    if cv_ax is not ax:
        cv_ax.set_ylabel(_CRITERION_LABELS["cv"])
    handles = [line for a in dict.fromkeys([ax, cv_ax]) for line in a.get_lines()]
    ax.legend(handles=handles, loc="best")
    return ax


def plot_digits(data, fig=None, axes=None, grid=(10, 10), image_shape=(8, 8),
                clim=(0, 16), cmap="binary"):
    """Show the first images of ``data`` in a grid (the chapter's ``plot_digits``).

    Parameters
    ----------
    data : array-like of shape (n_images, prod(image_shape))
        Flattened images, e.g. ``load_digits().data`` or generated digits.
    fig : matplotlib Figure, default=None
        Figure to create the grid in (default a new 8x8-inch figure); ignored
        when ``axes`` is given.
    axes : array of matplotlib Axes, default=None
        Existing grid to draw into; its size overrides ``grid``.
    grid : (int, int), default=(10, 10)
        Rows and columns of a new grid.
    image_shape : (int, int), default=(8, 8)
    clim : (float, float), default=(0, 16)
        Colour limits; 0..16 is the range of the digits' pixels.
    cmap : str, default="binary"

    Returns
    -------
    axes : ndarray of matplotlib Axes
        The grid; ``axes.flat[0].figure`` is the figure. Cells beyond the number
        of images are switched off.
    """
    plt = _pyplot()
    data = np.asarray(data)
    if axes is None:
        fig = plt.figure(figsize=(8, 8)) if fig is None else fig
        axes = fig.subplots(*grid, subplot_kw={"xticks": [], "yticks": []}, squeeze=False)
        # Layout engines (matplotlib >= 3.6) manage spacing themselves.
        if getattr(fig, "get_layout_engine", lambda: None)() is None:
            fig.subplots_adjust(hspace=0.05, wspace=0.05)
    axes = np.asarray(axes)
    for i, axi in enumerate(axes.flat):
        # A thin frame and no grid whatever the style: seaborn's white grid and
        # frameless axes make the 8x8 images run into each other.
        axi.grid(False)
        for spine in axi.spines.values():
            spine.set(visible=True, edgecolor="0.6", linewidth=0.5)
        if i < len(data):
            image = axi.imshow(data[i].reshape(image_shape), cmap=cmap)
            image.set_clim(*clim)
        else:
            axi.set_axis_off()
    return axes
