"""Loss curves as a PNG: with matplotlib when it is installed, else with a small writer of our own (numpy + zlib).

The fallback draws each curve in its own colour inside a frame with four horizontal grid lines and no text;
`plot_losses` returns the legend (name -> colour) and the value range so a caller can print them.

Example:
    >>> plot_losses([{"step": 10, "mlm_loss": 6.1}, {"step": 20, "mlm_loss": 5.7}], "loss.png")
    {'mlm_loss': 'tab:blue'}
"""

import struct
import zlib

import numpy as np

COLOURS = {"tab:blue": (31, 119, 180), "tab:orange": (255, 127, 14), "tab:green": (44, 160, 44),
           "tab:red": (214, 39, 40), "tab:purple": (148, 103, 189)}


def write_png(path, rgb):
    """Write an [height, width, 3] uint8 array as a PNG file."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    height, width, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[row].tobytes() for row in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9))
                + chunk(b"IEND", b""))


def _draw_line(canvas, x0, y0, x1, y1, colour):
    n = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
    xs = np.round(np.linspace(x0, x1, n)).astype(int)
    ys = np.round(np.linspace(y0, y1, n)).astype(int)
    for dx in (0, 1):
        for dy in (0, 1):
            canvas[np.clip(ys + dy, 0, canvas.shape[0] - 1), np.clip(xs + dx, 0, canvas.shape[1] - 1)] = colour


def _series(history, keys):
    steps = np.array([row["step"] for row in history], dtype=float)
    return steps, {k: np.array([row.get(k, np.nan) for row in history], dtype=float) for k in keys}


def plot_losses(history, path, keys=None, size=(800, 480), title="pretraining loss", use_matplotlib=None):
    """Draw `history` (dicts with `step` and loss keys, as `LossCurve.history`) into PNG `path`.

    `use_matplotlib`: None (when installed), True or False (our own writer).
    Returns the legend {key: colour name}.
    """
    keys = keys or sorted({k for row in history for k in row if k.endswith("loss")})
    legend = dict(zip(keys, COLOURS))
    steps, values = _series(history, keys)
    plt = None
    if use_matplotlib is not False:
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            if use_matplotlib:
                raise
    if plt is not None:
        fig, ax = plt.subplots(figsize=(size[0] / 100, size[1] / 100))
        for key in keys:
            ax.plot(steps, values[key], label=key, color=legend[key])
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=100)
        plt.close(fig)
        return legend

    width, height = size
    margin = 30
    canvas = np.full((height, width, 3), 255, np.uint8)
    canvas[margin, margin:width - margin] = canvas[height - margin, margin:width - margin] = 0
    canvas[margin:height - margin, margin] = canvas[margin:height - margin, width - margin] = 0
    for i in range(1, 4):
        canvas[margin + i * (height - 2 * margin) // 4, margin + 1:width - margin:4] = 180
    finite = np.concatenate([v[np.isfinite(v)] for v in values.values()] or [np.zeros(1)])
    low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    high = high if high > low else low + 1.0
    first, last = (float(steps.min()), float(steps.max())) if steps.size else (0.0, 1.0)
    last = last if last > first else first + 1.0

    def xy(step, value):
        x = margin + (step - first) / (last - first) * (width - 2 * margin)
        y = height - margin - (value - low) / (high - low) * (height - 2 * margin)
        return x, y

    for key in keys:
        points = [xy(s, v) for s, v in zip(steps, values[key]) if np.isfinite(v)]
        for (x0, y0), (x1, y1) in zip(points, points[1:]):
            _draw_line(canvas, x0, y0, x1, y1, COLOURS[legend[key]])
        if len(points) == 1:
            _draw_line(canvas, *points[0], *points[0], COLOURS[legend[key]])
    write_png(path, canvas)
    return legend
