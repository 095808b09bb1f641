"""Loss curves as a PNG, drawn by matplotlib (an optional dependency, imported when a plot is asked for).

Without matplotlib, `plot_losses` raises an ImportError that says how to install it; the same curves are always
in the TensorBoard scalars that `LossCurve` writes under `log_dir/train` (`tensorboard --logdir log_dir`).

Every loss key gets its own line: colours follow matplotlib's ten Tableau colours, and from the eleventh key on
the line style changes as well, so no two keys look alike.

Example:
    >>> plot_losses([{"step": 10, "mlm_loss": 6.1}, {"step": 20, "mlm_loss": 5.7}], "loss.png")
    {'mlm_loss': 'tab:blue'}
"""

import numpy as np

from keras_bert_suite.io import atomic_path

LINE_STYLES = ("-", "--", ":", "-.")


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise ImportError(
            "plot_losses draws with matplotlib, which is not installed: pip install matplotlib (the loss curves "
            "are also in the TensorBoard scalars under log_dir/train)"
        ) from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_losses(history, path, keys=None, size=(800, 480), title="pretraining loss"):
    """Draw `history` into the PNG file `path`.

    Args:
        history: dicts with `step` and loss values (`LossCurve.history`); a key missing from a row is a gap.
        path: the PNG file to write.
        keys: the keys to draw (default: every key ending in "loss", sorted).
        size: (width, height) in pixels.
        title: the chart's title.

    Returns:
        The legend {key: matplotlib colour name}, one entry per drawn key.

    Raises:
        ImportError: matplotlib is not installed.
    """
    plt = _pyplot()
    from matplotlib.colors import TABLEAU_COLORS

    keys = keys or sorted({k for row in history for k in row if k.endswith("loss")})
    colours = list(TABLEAU_COLORS)
    legend = {key: colours[i % len(colours)] for i, key in enumerate(keys)}
    steps = np.array([row["step"] for row in history], dtype=float)
    fig, ax = plt.subplots(figsize=(size[0] / 100, size[1] / 100))
    try:
        for i, key in enumerate(keys):
            values = np.array([row.get(key, np.nan) for row in history], dtype=float)
            style = LINE_STYLES[(i // len(colours)) % len(LINE_STYLES)]
            marker = "." if len(steps) < 3 else None  # a single point shows
            ax.plot(steps, values, label=key, color=legend[key], linestyle=style, marker=marker)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if keys:
            ax.legend()
        fig.tight_layout()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=100, format="png")
    finally:
        plt.close(fig)
    return legend
