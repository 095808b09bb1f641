"""The `kbs` command.

    kbs convert SRC DST [--model-class NAME] [--cased | --uncased] [--no-keras]
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _convert(args):
    from keras_bert_suite.convert import convert

    lower = None if args.casing is None else args.casing == "uncased"
    convert(args.src, args.dst, model_class=args.model_class, do_lower_case=lower, keras_file=not args.no_keras)


def build_parser():
    parser = argparse.ArgumentParser(prog="kbs", description="keras-bert-suite command line")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("convert", help="write any checkpoint as a Hugging Face folder and a .keras file")
    p.add_argument("src", help="HF folder (safetensors / bin / tf_model.h5) or Google checkpoint folder/prefix")
    p.add_argument("dst", help="output folder")
    p.add_argument("--model-class", default=None, help="e.g. BertForPreTraining (default: from the checkpoint)")
    casing = p.add_mutually_exclusive_group()
    casing.add_argument("--cased", dest="casing", action="store_const", const="cased")
    casing.add_argument("--uncased", dest="casing", action="store_const", const="uncased")
    p.add_argument("--no-keras", action="store_true", help="skip writing model.keras")
    p.set_defaults(func=_convert)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (FileNotFoundError, ValueError) as e:
        print(f"kbs {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
