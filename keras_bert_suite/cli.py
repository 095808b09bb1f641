"""The `kbs` command.

    kbs convert SRC DST [--to hf | keras-hub] [--model-class NAME] [--cased | --uncased] [--no-keras]
    kbs export MODEL_DIR [--task TASK] [--out savedmodels/NAME] [--max-length N] [--version V] [--no-xla]
               [--top-k K] [--function-to-apply F] [--aggregation-strategy S] [--[no-]align-to-words]
               [--handle-impossible-answer] [--max-seq-len N] [--doc-stride N] [--max-question-len N]
               [--max-answer-len N] [--max-context-tokens N] [--pooling MODE ...] [--no-normalize-embeddings] ...
    kbs predict SAVEDMODEL TEXT... [--signature NAME] [--input NAME=VALUE ...]
    kbs predict MODEL.tflite TEXT...
    kbs serve-check SAVEDMODEL [--tf-serving VERSION]
    kbs bulk-predict MODEL_DIR INPUT OUTPUT [--signature NAME] [--input-format F] [--text-field NAME]
               [--field INPUT=NAME ...] [--output-format F] [--batch-size N] [BEAM PIPELINE OPTIONS ...]

Every command takes `--verbose`: TensorFlow's C++ start-up lines are hidden without it (tf_logging.py).
"""

import argparse
import json
import os
import sys
import time

from keras_bert_suite import export
from keras_bert_suite.bulk.cli import add_bulk_arguments, run_bulk_predict  # no Beam import until a run
from keras_bert_suite.checkpoints.configs import read_config
from keras_bert_suite.checkpoints.formats import read_state_dict
from keras_bert_suite.checkpoints.mapping import load_state_dict
from keras_bert_suite.convert import convert, model_class_of, save_keras_hub_preset
from keras_bert_suite.export import inspect
from keras_bert_suite.export.compat import check_tf_serving
from keras_bert_suite.export.entities import STRATEGIES
from keras_bert_suite.export.litert import predict_file
from keras_bert_suite.hub import TOKENIZER_FILES, resolve_pretrained
from keras_bert_suite.tokenizers import BertTokenizer


def _convert(args):
    lower = None if args.casing is None else args.casing == "uncased"
    if args.to == "keras-hub":
        save_keras_hub_preset(args.src, None, args.dst, do_lower_case=lower)
        return
    convert(args.src, args.dst, model_class=args.model_class, do_lower_case=lower, keras_file=not args.no_keras)


def _export(args):
    model_dir = resolve_pretrained(args.model_dir, extra_files=TOKENIZER_FILES)  # a Hub id: its cached files
    state, _, source = read_state_dict(model_dir)  # read once: its names pick the class, then it is loaded
    config = read_config(model_dir)
    cls = model_class_of(config, state, args.model_class)
    name = cls.__name__
    model = cls(config)
    report = load_state_dict(model, state, source).report(name)
    if report:
        print(report, file=sys.stderr)
    tokenizer = BertTokenizer.from_pretrained(model_dir)
    out = args.out or os.path.join("savedmodels", os.path.basename(os.path.normpath(args.model_dir)))
    options = {name: getattr(args, name) for name in EXPORT_OPTIONS if getattr(args, name) is not None}
    if options.get("max_context_tokens") == "none":
        options["max_context_tokens"] = None
    path = export.export_saved_model(model, tokenizer, out, task=args.task, max_length=args.max_length,
                                     version=args.version, jit_compile=False if args.no_xla else None,
                                     compute_dtype=args.compute_dtype, quantize=args.quantize,
                                     chunk_size=args.chunk_size, chunk_tokens=args.chunk_tokens, **options)
    print(f"exported {name} as {path}")
    print(f"serve it: docker run -p 8501:8501 -v {os.path.abspath(out)}:/models/{os.path.basename(out)} "
          f"-e MODEL_NAME={os.path.basename(out)} tensorflow/serving"
          # TF Serving runs XLA only when asked; the int8 export does not use it
          f"{'' if args.no_xla or args.quantize else ' --xla_cpu_compilation_enabled=true'}")


def _export_options(p):
    """`kbs export`'s flags for the export options (`ExportOptions`): the pipelines' under their names and defaults.
    A flag left out leaves the option at its default (None here)."""
    def no_limit(text):
        return "none" if text.lower() == "none" else int(text)

    g = p.add_argument_group("answers", "export options; the pipelines' carry the pipeline's name and default "
                             "(savedmodels/README.md)")
    g.add_argument("--top-k", type=int, help="answers per input: text classification labels (default 1), fill-mask "
                   "tokens per [MASK] (default 5), QA answers per question (default 1), causal LM sampling (5)")
    g.add_argument("--function-to-apply", choices=["softmax", "sigmoid", "none"],
                   help="text classification scores (default: the pipeline's rule from the config: none for "
                   "regression, sigmoid for multi-label or one label, else softmax)")
    g.add_argument("--aggregation-strategy", choices=list(STRATEGIES),
                   help="token classification entities (default: none, one entity per token not labelled O; "
                   "first / average / max: whole words)")
    g.add_argument("--align-to-words", action=argparse.BooleanOptionalAction,
                   help="QA answers widened to whole words (default: --align-to-words)")
    g.add_argument("--handle-impossible-answer", action="store_true", default=None,
                   help="QA: the empty answer competes with its null score (default: off)")
    g.add_argument("--max-seq-len", type=int, help="QA: tokens per window, the pipeline's name for --max-length "
                   "(default: --max-length, 128)")
    g.add_argument("--doc-stride", type=int,
                   help="QA: tokens shared by neighbouring windows (default: min(max length // 2, 128))")
    g.add_argument("--max-question-len", type=int, help="QA: word pieces of the question kept (default 64)")
    g.add_argument("--max-answer-len", type=int, help="QA: most tokens in an answer (default 15)")
    g.add_argument("--max-context-tokens", type=no_limit, metavar="N|none",
                   help="QA: a context of more word pieces is refused (default 16384; none: no limit)")
    g.add_argument("--pooling", nargs="+", help="embeddings: sentence-transformers pooling modes (default: mean)")
    g.add_argument("--no-normalize-embeddings", dest="normalize_embeddings", action="store_false", default=None,
                   help="embeddings: leave them unnormalized (default: L2-normalized)")
    g.add_argument("--max-new-tokens", type=int, help="causal LM: tokens generated (default 20)")
    g.add_argument("--do-sample", action="store_true", default=None,
                   help="causal LM: sample among the top k (default: greedy)")
    g.add_argument("--pad-to-multiple-of", type=int, help="padded lengths are multiples of this (default 8)")


# the export options `_export_options` adds, by their ExportOptions name
EXPORT_OPTIONS = ("top_k", "function_to_apply", "aggregation_strategy", "align_to_words", "handle_impossible_answer",
                  "max_seq_len", "doc_stride", "max_question_len", "max_answer_len", "max_context_tokens",
                  "pooling", "normalize_embeddings", "max_new_tokens", "do_sample", "pad_to_multiple_of")


def _parse_inputs(fn, texts, pairs):
    names = sorted(fn.structured_input_signature[1])
    inputs = {}
    for item in pairs or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--input takes NAME=VALUE, got {item!r}")
        spec = fn.structured_input_signature[1].get(key)
        if spec is None:
            raise ValueError(f"unknown input {key!r}; this signature takes {names}")
        inputs.setdefault(key, []).append(value.split("|") if spec.shape.rank == 2 else value)
    if texts:
        free = [n for n in names if n not in inputs]
        if len(free) != 1:
            raise ValueError(f"this signature takes {names}: give them with --input NAME=VALUE")
        inputs[free[0]] = list(texts)
    return inputs


def _predict(args):
    if args.savedmodel.endswith(".tflite"):
        if args.input or args.signature != "serving_default":
            raise ValueError("a LiteRT file has one signature, serving_default, with one input: give the texts alone")
        _print_rows(predict_file(args.savedmodel, args.texts))
        return
    loaded, path = inspect.load(args.savedmodel)
    if args.signature not in loaded.signatures:
        raise ValueError(f"no signature {args.signature!r} in {path}; it has {sorted(loaded.signatures)}")
    fn = loaded.signatures[args.signature]
    _print_rows(inspect.run(fn, _parse_inputs(fn, args.texts, args.input)))


def _print_rows(result):
    """One JSON line per request row: {output name: that row's value}."""
    rows = len(next(iter(result.values())))
    for i in range(rows):
        print(json.dumps({k: v[i] for k, v in result.items()}, ensure_ascii=False))


def _serve_check(args):
    if args.tf_serving:
        report = check_tf_serving(args.savedmodel, args.tf_serving)
        print(report.format())
        if not report.ok:
            return 1
    loaded, path = inspect.load(args.savedmodel)
    print(f"SavedModel: {path}")
    for name, spec in inspect.describe(loaded).items():
        print(f"signature {name!r}")
        for kind in ("inputs", "outputs"):
            for key, (dtype, shape) in spec[kind].items():
                print(f"  {kind[:-1]:6s} {key}: {dtype} {shape}")
        fn = loaded.signatures[name]
        sample = inspect.sample_inputs(fn)
        start = time.perf_counter()
        result = inspect.run(fn, sample)
        took = time.perf_counter() - start
        print(f"  sample request {json.dumps(sample, ensure_ascii=False)} ({took * 1000:.0f} ms, first call)")
        for key, value in result.items():
            text = json.dumps(value, ensure_ascii=False)
            print(f"    {key}: {text[:200]}{'...' if len(text) > 200 else ''}")


def _bulk_predict(args):
    return run_bulk_predict(args)


def build_parser():
    parser = argparse.ArgumentParser(prog="kbs", description="keras-bert-suite command line")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("convert", help="write any checkpoint as a Hugging Face folder and a .keras file")
    p.add_argument("src", help="HF folder (safetensors / bin / tf_model.h5), Google checkpoint folder/prefix, "
                   "or a Hugging Face Hub id (org/name)")
    p.add_argument("dst", help="output folder")
    p.add_argument("--model-class", default=None, help="e.g. BertForPreTraining (default: from the checkpoint)")
    casing = p.add_mutually_exclusive_group()
    casing.add_argument("--cased", dest="casing", action="store_const", const="cased")
    casing.add_argument("--uncased", dest="casing", action="store_const", const="uncased")
    p.add_argument("--no-keras", action="store_true", help="skip writing model.keras")
    p.add_argument("--to", choices=["hf", "keras-hub"], default="hf",
                   help="hf: a Hugging Face folder + model.keras (default); keras-hub: a KerasHub BERT preset")
    p.set_defaults(func=_convert)

    p = sub.add_parser("export", help="export a checkpoint folder as a raw-text SavedModel for TF Serving")
    p.add_argument("model_dir", help="a Hugging Face folder with config, weights and vocab.txt, or a Hub id")
    p.add_argument("--task", default=None, help="serving task (default: from the model class)")
    p.add_argument("--model-class", default=None, help="model class (default: from the checkpoint)")
    p.add_argument("--out", default=None, help="model base path (default: savedmodels/<folder name>)")
    p.add_argument("--max-length", type=int, default=None,
                   help="tokens per input (QA: per window; default 128, or --max-seq-len)")
    p.add_argument("--version", type=int, default=None)
    p.add_argument("--no-xla", action="store_true", help="do not XLA-compile the encoder inside")
    p.add_argument("--compute-dtype", default="float32", choices=["float32", "bfloat16", "float16"],
                   help="compute dtype of the exported encoder (bfloat16: faster on CPUs with AVX512_BF16)")
    p.add_argument("--quantize", default=None, choices=["int8"],
                   help="int8: the encoder's dense layers in int8 (oneDNN kernel, x86-64; no XLA; "
                   "docs/benchmarks.md states the tolerance)")
    p.add_argument("--chunk-size", type=int, default=8,
                   help="rows per model call, sorted by length (0: the whole batch in one call)")
    p.add_argument("--chunk-tokens", type=int, default=1024,
                   help="token budget: chunks of short rows take up to 64 rows while rows x padded length fit "
                   "(0: always --chunk-size rows)")
    _export_options(p)
    p.set_defaults(func=_export)

    p = sub.add_parser("predict", help="answer raw-text requests with an exported SavedModel or LiteRT file")
    p.add_argument("savedmodel", help="a SavedModel folder, a model base path (latest version), or a .tflite file "
                   "from export_litert")
    p.add_argument("texts", nargs="*", help="texts for a signature with one string input")
    p.add_argument("--input", action="append", help="NAME=VALUE (repeat for a batch; choices: a|b|c)")
    p.add_argument("--signature", default="serving_default")
    p.set_defaults(func=_predict)

    p = sub.add_parser("serve-check", help="list a SavedModel's signatures and run a sample request on each")
    p.add_argument("savedmodel")
    p.add_argument("--tf-serving", metavar="VERSION", default=None,
                   help="first check the ops it uses against those TF Serving VERSION links (exit 1 when missing)")
    p.set_defaults(func=_serve_check)
    p = sub.add_parser("bulk-predict", help="answer every row of files with a SavedModel on Apache Beam "
                       "(the beam extra; docs/bulk.md)")
    add_bulk_arguments(p)
    p.set_defaults(func=_bulk_predict)
    for command in sub.choices.values():
        command.add_argument("--verbose", action="store_true",
                             help="show TensorFlow's C++ log lines (hidden by default: keras_bert_suite.tf_logging)")
    return parser


def main(argv=None):
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "bulk-predict":  # only bulk-predict passes options on (to Beam)
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.pipeline_args = extra
    try:
        status = args.func(args)
    except (FileNotFoundError, ValueError) as e:
        print(f"kbs {args.command}: error: {e}", file=sys.stderr)
        return 2
    return status or 0


if __name__ == "__main__":
    sys.exit(main())
