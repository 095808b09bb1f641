"""Cost growth: how time per call grows with sequence length and batch size, for the encoder alone and for
serving raw text, ours against the peers, over a grid (length 32/128/512 x batch 1/8/32 by default).

Parts:
    encoder   the MiniLM-shaped encoder (random weights: the time does not depend on their values), ours under
              XLA in fp32 against KerasHub's BertBackbone (XLA), transformers' TFBertModel (XLA) and PyTorch
              BertModel; the worker is `tools.bench.encoder`'s, one call per batch of `batch` x `length` ids.
    serving   raw text to label with the real MiniLM checkpoint: ours (exported raw-text SavedModel) against
              the peers of `tools.bench.serving`. Every row is real English (WikiText-2 validation) cut so that
              it tokenizes to exactly `length` tokens with [CLS] and [SEP]; every implementation gets
              max_length = `length` and one request of `batch` rows per call.

Each implementation runs in its own process per length (batches in ascending order inside it; the order of the
implementations rotates from one length to the next). Every cell is appended to the part's CSV as soon as it is
measured, and cells already in the CSV are skipped, so the grid can run in parts and resume after a stop.
Columns: see COLUMNS. Peak RSS is the process's peak so far (it ran the smaller batches of that length first).

Usage:
    python -m tools.bench.sweep --part encoder                              # the whole encoder grid
    python -m tools.bench.sweep --part serving --lengths 32,128 --batches 1,8
    python -m tools.bench.sweep --chart                                     # charts + tables from the CSVs
    python -m tools.bench.sweep --quick --out /tmp/sweep                    # smoke run: tiny, one cell
"""

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import time

from tools.bench.common import ROOT, SHARED, emit, machine, minilm_folder, table, time_calls

ENCODER_IMPLS = ("ours-xla", "kerashub-xla", "hf-tf-xla", "torch")
SERVING_IMPLS = ("ours-savedmodel", "torch+rust-tokenizer", "hf-tf-xla+rust-tokenizer", "kerashub-xla")
PARTS = {"encoder": ENCODER_IMPLS, "serving": SERVING_IMPLS}
OURS = {"encoder": "ours-xla", "serving": "ours-savedmodel"}
COLUMNS = ("part", "impl", "shape", "length", "batch", "tokens_per_s", "sequences_per_s", "ms_per_call_p50",
           "repeats", "peak_rss_mb", "load_avg_1m", "timestamp", "machine")
WIKITEXT = os.path.join(SHARED, "text", "wikitext2_valid.tokens.txt")
DEFAULT_OUT = os.path.join("docs", "sweep")


# ---------------------------------------------------------------------------------------------------- texts


def exact_length_texts(tokenizer, length, rows, path=WIKITEXT):
    """Real text rows that each tokenize to exactly `length` tokens, [CLS] and [SEP] included.

    Row i starts at word i * (words // max(rows, 64)) of `path` (so the first rows are the same whatever `rows`
    up to 64) and takes the following whitespace-separated words while
    their word pieces fit in `length - 2`; a word that would overflow is skipped (so no word is cut in half,
    which could tokenize differently on its own). Each row is checked with `tokenizer`.

    Args:
        tokenizer: a tokenizer with `tokenize(text)` and `__call__` (our `BertTokenizer`).
        length: tokens per row with the two special tokens (>= 3). rows: number of rows.
    Returns:
        list of `rows` strings.
    Example: `exact_length_texts(BertTokenizer.from_pretrained(folder), 32, 8)`
    """
    if length < 3:
        raise ValueError(f"length must be at least 3 ([CLS], one piece, [SEP]); got {length}")
    with open(path, encoding="utf-8") as f:
        words = f.read().split()
    budget, stride, pieces = length - 2, max(1, len(words) // max(rows, 64)), {}
    texts = []
    for i in range(rows):
        taken, used, at = [], 0, i * stride
        while used < budget:
            if at - i * stride >= len(words):
                raise ValueError(f"{path} has too few words for {rows} rows of {length} tokens")
            word = words[at % len(words)]
            at += 1
            if word not in pieces:
                pieces[word] = len(tokenizer.tokenize(word))
            if 0 < pieces[word] <= budget - used:
                taken.append(word)
                used += pieces[word]
        text = " ".join(taken)
        got = len(tokenizer(text)["input_ids"])
        if got != length:
            raise AssertionError(f"row {i} tokenizes to {got} tokens, not {length}: {text[:80]!r}")
        texts.append(text)
    return texts


# --------------------------------------------------------------------------------------------------- worker


def worker(part, impl, shape, length, batches, repeats):
    """One implementation at one length: a RESULT line per batch (ascending), printed as soon as measured."""
    if part == "encoder":
        from tools.bench import encoder

        for batch in batches:
            encoder.worker(impl, shape, batch, length, repeats)
        return
    if part != "serving":
        raise ValueError(f"unknown part {part!r}; known: {', '.join(PARTS)}")
    if shape != "minilm":
        raise ValueError(f"the serving part runs the real MiniLM checkpoint (shape minilm), not {shape!r}")
    from keras_bert_suite.tokenizers import BertTokenizer
    from tools.bench import serving

    texts = exact_length_texts(BertTokenizer.from_pretrained(minilm_folder()), length, max(batches))
    make = serving.load(impl, max_length=length, warmup=False)
    for batch in batches:
        seconds = time_calls(make([texts[:batch]]), repeats, warmup=1)
        emit({"impl": impl, "shape": shape, "batch": batch, "length": length, "seq_per_s": batch / seconds})


def run_worker_streaming(part, impl, shape, length, batches, repeats, on_result, timeout):
    """Run one worker process; call `on_result(dict)` for each RESULT line as it arrives. Returns the error
    text (the end of stderr) when the process failed or gave fewer results than batches, else None."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH=ROOT)
    if "hf-tf" in impl:
        env["TF_USE_LEGACY_KERAS"] = "1"
    cmd = [sys.executable, "-m", "tools.bench.sweep", "--worker", part, impl, shape, str(length),
           ",".join(map(str, batches)), str(repeats)]
    err_path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"sweep-{os.getpid()}-{impl}.err")
    got = 0
    deadline = time.monotonic() + timeout
    with open(err_path, "w+") as err:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=err, text=True)
        try:
            for line in proc.stdout:
                if line.startswith("RESULT "):
                    on_result(json.loads(line[len("RESULT "):]))
                    got += 1
                if time.monotonic() > deadline:
                    proc.kill()
                    break
        finally:
            proc.wait()
        err.seek(0)
        tail = err.read()[-1500:]
    os.remove(err_path)
    if proc.returncode != 0 or got < len(batches):
        return tail or f"exit code {proc.returncode}"
    return None


# ------------------------------------------------------------------------------------------------------ CSV


def read_rows(path):
    """The CSV's rows as dicts (empty when the file does not exist)."""
    if not os.path.exists(path):
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def append_row(path, row):
    """Append one row, rewriting the file atomically (header first when new)."""
    from keras_bert_suite.io import atomic_write_text

    rows = read_rows(path) + [row]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: r.get(k, "") for k in COLUMNS})
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    atomic_write_text(path, buf.getvalue())


def cell_key(row):
    return (row["part"], row["impl"], row["shape"], int(row["length"]), int(row["batch"]))


def csv_path(out, part):
    return os.path.join(out, f"{part}.csv")


def run_part(part, impls, shape, lengths, batches, repeats, out, timeout):
    """Measure every missing cell of one part; returns the number of failed worker processes."""
    path = csv_path(out, part)
    done = {cell_key(r) for r in read_rows(path)}
    failures = 0
    for n, length in enumerate(lengths):
        order = impls[n % len(impls):] + impls[:n % len(impls)]
        for impl in order:
            todo = [b for b in batches if (part, impl, shape, length, b) not in done]
            if not todo:
                print(f"{part} {impl} length {length}: already in {path}", flush=True)
                continue

            def record(result, impl=impl, length=length):
                batch, seconds = int(result["batch"]), int(result["batch"]) / result["seq_per_s"]
                row = {"part": part, "impl": impl, "shape": shape, "length": length, "batch": batch,
                       "tokens_per_s": round(batch * length / seconds, 1),
                       "sequences_per_s": round(batch / seconds, 3), "ms_per_call_p50": round(1000 * seconds, 2),
                       "repeats": repeats, "peak_rss_mb": result.get("peak_rss_mb", ""),
                       "load_avg_1m": round(os.getloadavg()[0], 2),
                       "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine()}
                append_row(path, row)
                print(f"{part} {impl} length {length} batch {batch}: {row['ms_per_call_p50']} ms/call, "
                      f"load {row['load_avg_1m']}", flush=True)

            error = run_worker_streaming(part, impl, shape, length, todo, repeats, record, timeout)
            if error:
                failures += 1
                lines = error.strip().splitlines()
                print(f"{part} {impl} length {length} failed: {lines[-1] if lines else error}", flush=True)
    return failures


# ---------------------------------------------------------------------------------------------------- chart


def cells(rows):
    """{(impl, length, batch): ms per call} from CSV rows (the last row wins when a cell was measured twice)."""
    return {(r["impl"], int(r["length"]), int(r["batch"])): float(r["ms_per_call_p50"]) for r in rows}


def ratio_vs_best_peer(part, rows):
    """{(length, batch): best peer's ms / ours' ms} (above 1: ours is faster) for cells with ours and a peer."""
    ms = cells(rows)
    ours = OURS[part]
    out = {}
    for (impl, length, batch), t in ms.items():
        if impl != ours:
            continue
        peers = [v for (i, le, b), v in ms.items() if i != ours and (le, b) == (length, batch)]
        if peers:
            out[(length, batch)] = min(peers) / t
    return out


def markdown_table(part, rows):
    """One line per cell: ms per call of each implementation, and ours against the best peer."""
    ms = cells(rows)
    impls = [i for i in PARTS[part] if any(k[0] == i for k in ms)]
    impls += sorted({k[0] for k in ms} - set(impls))
    ratios = ratio_vs_best_peer(part, rows)
    load = {(int(r["length"]), int(r["batch"])): float(r["load_avg_1m"]) for r in rows if r["load_avg_1m"]}
    body = []
    for length, batch in sorted({(k[1], k[2]) for k in ms}):
        times = [ms.get((i, length, batch)) for i in impls]
        ours = ms.get((OURS[part], length, batch))
        body.append([length, batch] + [f"{t:,.1f}" if t else "-" for t in times]
                    + [f"{batch * length / ours * 1000:,.0f}" if ours else "-",
                       f"{ratios[(length, batch)]:.2f}x" if (length, batch) in ratios else "-",
                       f"{load[(length, batch)]:.1f}" if (length, batch) in load else "-"])
    headers = ["length", "batch"] + [f"{i} ms" for i in impls] + ["ours tokens/s", "ours vs best peer",
                                                                  "load avg"]
    return table(body, headers)


def draw(part, rows, out):
    """Two PNGs beside the CSV: ms per call vs length for each batch (log-log), and ours vs best peer per cell."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from keras_bert_suite.io import atomic_path

    ms = cells(rows)
    batches = sorted({b for _, _, b in ms})
    lengths = sorted({le for _, le, _ in ms})
    impls = [i for i in PARTS[part] if any(k[0] == i for k in ms)] + sorted({k[0] for k in ms} - set(PARTS[part]))
    fig, axes = plt.subplots(1, len(batches), figsize=(4.2 * len(batches), 3.8), squeeze=False)
    for ax, batch in zip(axes[0], batches):
        for impl in impls:
            pts = [(le, ms[(impl, le, batch)]) for le in lengths if (impl, le, batch) in ms]
            if pts:
                ax.plot(*zip(*pts), marker="o", label=impl, linewidth=2.2 if impl == OURS[part] else 1.2)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(lengths, [str(le) for le in lengths])
        ax.set_title(f"batch {batch}")
        ax.set_xlabel("sequence length (tokens)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("ms per call (median)")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(f"{part}: time per call vs length (log-log)")
    fig.tight_layout()
    paths = [os.path.join(out, f"{part}_time.png"), os.path.join(out, f"{part}_ratio.png")]
    with atomic_path(paths[0], suffix=".tmp.png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)

    ratios = ratio_vs_best_peer(part, rows)
    grid = [[ratios.get((le, b), float("nan")) for b in batches] for le in lengths]
    fig, ax = plt.subplots(figsize=(1.4 * len(batches) + 2.5, 1.0 * len(lengths) + 1.5))
    image = ax.imshow(grid, cmap="RdYlGn", vmin=0.5, vmax=1.5, origin="lower")
    for y, le in enumerate(lengths):
        for x, b in enumerate(batches):
            if (le, b) in ratios:
                ax.text(x, y, f"{ratios[(le, b)]:.2f}x", ha="center", va="center", fontsize=9)
    ax.set_xticks(range(len(batches)), [str(b) for b in batches])
    ax.set_yticks(range(len(lengths)), [str(le) for le in lengths])
    ax.set_xlabel("batch")
    ax.set_ylabel("length")
    ax.set_title(f"{part}: {OURS[part]} vs best peer\n(best peer's time / ours; >1: ours faster)", fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    with atomic_path(paths[1], suffix=".tmp.png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return paths


def chart(out, parts):
    for part in parts:
        rows = read_rows(csv_path(out, part))
        if not rows:
            print(f"no rows in {csv_path(out, part)}: nothing to draw")
            continue
        print(f"\n{part} ({csv_path(out, part)}):")
        print(markdown_table(part, rows))
        for p in draw(part, rows, out):
            print(f"chart: {p}")


# ----------------------------------------------------------------------------------------------------- main


def _ints(text):
    return [int(x) for x in text.split(",") if x]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", nargs=6, metavar=("PART", "IMPL", "SHAPE", "LENGTH", "BATCHES", "REPEATS"))
    parser.add_argument("--part", choices=sorted(PARTS), action="append",
                        help="part to measure (repeatable); default: none unless --quick")
    parser.add_argument("--lengths", default="32,128,512")
    parser.add_argument("--batches", default="1,8,32")
    parser.add_argument("--impls", default="", help="comma-separated; default: every implementation of the part")
    parser.add_argument("--shape", default="minilm", help="encoder part only: minilm, base or tiny")
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per cell (median), after warmup")
    parser.add_argument("--out", default=DEFAULT_OUT, help="folder of the CSVs and charts")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds per worker process")
    parser.add_argument("--chart", action="store_true", help="draw the charts and print tables from the CSVs")
    parser.add_argument("--quick", action="store_true",
                        help="smoke run: encoder, tiny shape, length 16 x batch 2, ours-xla and torch, 1 repeat")
    args = parser.parse_args(argv)
    if args.worker:
        part, impl, shape, length, batches, repeats = args.worker
        return worker(part, impl, shape, int(length), sorted(_ints(batches)), int(repeats))
    if args.quick:
        args.part, args.shape, args.lengths, args.batches = ["encoder"], "tiny", "16", "2"
        args.impls, args.repeats = args.impls or "ours-xla,torch", 1
    out = os.path.join(ROOT, args.out) if not os.path.isabs(args.out) else args.out
    failures = 0
    for part in args.part or []:
        impls = args.impls.split(",") if args.impls else list(PARTS[part])
        unknown = sorted(set(impls) - set(PARTS[part]))
        if unknown:
            parser.error(f"unknown {part} implementations {unknown}; known: {', '.join(PARTS[part])}")
        shape = args.shape if part == "encoder" else "minilm"
        print(f"{part} sweep, {machine()}; shape {shape}, lengths {args.lengths}, batches {args.batches}, "
              f"repeats {args.repeats}; load average now {os.getloadavg()[0]:.2f}", flush=True)
        failures += run_part(part, impls, shape, _ints(args.lengths), sorted(_ints(args.batches)), args.repeats,
                             out, args.timeout)
    if args.chart or args.quick:
        chart(out, args.part or list(PARTS))
    if not args.part and not args.chart:
        parser.error("nothing to do: give --part, --chart or --quick")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
