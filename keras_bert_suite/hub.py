"""Hugging Face Hub ids as well as local paths: `resolve_pretrained` turns either into a local folder.

Every `from_pretrained` of the package calls it. A path that exists is used as it is. Anything else is taken
as a Hub repo id (`"org/name"` or `"name"`) and fetched through `huggingface_hub` into its cache (the layout
transformers shares: `models--org--name/{blobs,refs,snapshots/<commit>}`), fetching only the files the caller
needs:

    kind="config"     config.json
    kind="model"      config.json + one weights format, the first the repo has: model.safetensors,
                      model.safetensors.index.json + its shards, pytorch_model.bin, pytorch_model.bin.index.json
                      + its shards, tf_model.h5, model.weights.h5 (a KerasHub preset, + task.json and
                      task.weights.h5 where present)
    kind="tokenizer"  vocab.txt (else a KerasHub preset's assets/tokenizer/vocabulary.txt), and
                      tokenizer_config.json, special_tokens_map.json, tokenizer.json where present
    kind=None         only `extra_files` (online, config.json when none of them is in the repo, so that the
                      snapshot folder exists)

`extra_files` adds names or glob patterns (`"1_Pooling/config.json"`, `"*.json"`), fetched where present.

Offline (`local_files_only=True`, or HF_HUB_OFFLINE=1 / TRANSFORMERS_OFFLINE=1 in the environment) everything
comes from the cache, and the first weights format found complete there is used. Online, a connection failure
also falls back to the cache, as transformers does.

The environment is read at call time: huggingface_hub copies HF_HUB_OFFLINE, HF_HUB_CACHE, HF_HOME and
HF_ENDPOINT into `huggingface_hub.constants` once, when it is imported. `resolve_pretrained` reads them from
`os.environ` on every call, passes the cache folder and endpoint explicitly, and sets
`huggingface_hub.constants.HF_HUB_OFFLINE` to the environment's value for the duration of the call (restored
after it, so other users of huggingface_hub in the process see what they saw before).

Example:
    >>> folder = resolve_pretrained("google-bert/bert-base-uncased", kind="tokenizer")  # doctest: +SKIP
    >>> sorted(os.listdir(folder))  # doctest: +SKIP
    ['tokenizer.json', 'tokenizer_config.json', 'vocab.txt']
    >>> resolve_pretrained("path/to/local/folder")  # returned unchanged  # doctest: +SKIP
    'path/to/local/folder'
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re

KINDS = ("model", "config", "tokenizer", None)
CONFIG_FILE = "config.json"
WEIGHTS_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "tf_model.h5",
    "model.weights.h5",  # a KerasHub preset (checkpoints/keras_hub_preset.py), with its task files if any
)
KERAS_HUB_TASK_FILES = ("task.json", "task.weights.h5")
VOCAB_FILES = ("vocab.txt", "assets/tokenizer/vocabulary.txt")  # Hugging Face's, a KerasHub preset's
TOKENIZER_FILES = ("vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json")
_REQUIRED = {"config": (CONFIG_FILE,), "model": (CONFIG_FILE,), "tokenizer": (), None: ()}
_WHAT = {"config": "config", "model": "checkpoint", "tokenizer": "vocabulary", None: "folder"}
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
HUB_KWARGS = ("revision", "cache_dir", "token", "local_files_only", "force_download", "subfolder")


class PretrainedNotFoundError(FileNotFoundError):
    """A Hub id whose files cannot be had: not in the cache while offline, or the repo lacks a needed file."""


class InvalidPretrainedNameError(FileNotFoundError, ValueError):
    """A name that is neither an existing local path nor a valid Hub repo id."""


def pop_hub_kwargs(kwargs: dict) -> dict:
    """Remove the `resolve_pretrained` arguments (`HUB_KWARGS`) from a `from_pretrained`'s keyword arguments
    and return them; the rest stay in `kwargs` for the config, model or tokenizer.

    Example:
        >>> kwargs = {"revision": "v1", "num_labels": 3}
        >>> pop_hub_kwargs(kwargs), kwargs
        ({'revision': 'v1'}, {'num_labels': 3})
    """
    return {name: kwargs.pop(name) for name in HUB_KWARGS if name in kwargs}


def _is_true(value) -> bool:
    return str(value or "").strip().upper() in ("1", "ON", "YES", "TRUE")


def env_offline() -> bool:
    """Whether HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set in the environment now."""
    return _is_true(os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE"))


def default_cache_dir() -> str:
    """The Hub cache folder the environment names now: HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE, else
    HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return os.path.expanduser(os.path.expandvars(os.environ[name]))
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface"
    )
    return os.path.join(os.path.expanduser(os.path.expandvars(home)), "hub")


@contextlib.contextmanager
def _offline_constant(value):
    """`huggingface_hub.constants.HF_HUB_OFFLINE` set to `value` inside the block, restored after it."""
    from huggingface_hub import constants
    from huggingface_hub.utils import reset_sessions

    saved, constants.HF_HUB_OFFLINE = constants.HF_HUB_OFFLINE, value
    if saved != value:
        reset_sessions()  # huggingface_hub's cached HTTP session keeps the offline state it was made in
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved
        if saved != value:
            reset_sessions()


def _endpoint():
    value = os.environ.get("HF_ENDPOINT")
    return value.rstrip("/") if value else None


def _repo_id(name, kind):
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError as exc:
        raise InvalidPretrainedNameError(
            f"no {_WHAT[kind]} at {name!r}: it is not a local folder or file, nor a valid Hugging Face Hub repo "
            f"id ('name' or 'org/name'): {exc}"
        ) from None
    return name


def _cached_snapshot(repo_id, revision, cache_dir, why):
    """The snapshot folder of `repo_id` at `revision` in `cache_dir`; else an error naming them and `why` the
    cache had to serve (downloads off, the Hub unreachable)."""
    from huggingface_hub.file_download import repo_folder_name

    repo_folder = os.path.join(cache_dir, repo_folder_name(repo_id=repo_id, repo_type="model"))
    revision = revision or "main"
    commit = revision
    if not _COMMIT.match(revision):
        ref = os.path.join(repo_folder, "refs", revision)
        commit = None
        if os.path.isfile(ref):
            with open(ref, encoding="utf-8") as f:
                commit = f.read().strip()
    snapshot = os.path.join(repo_folder, "snapshots", commit) if commit else None
    if snapshot is None or not os.path.isdir(snapshot):
        raise PretrainedNotFoundError(
            f"{repo_id!r} (revision {revision!r}) is not a local path and is not in the Hugging Face cache "
            f"{cache_dir!r}, and {why}. Download it once online, or set HF_HUB_CACHE / HF_HOME to the cache "
            "that holds it."
        )
    return snapshot


def _join(folder, subfolder):
    return os.path.join(folder, *subfolder.split("/")) if subfolder else folder


def _cached_files(base):
    """Every file under the folder `base`, as paths relative to it with '/' separators."""
    out = []
    for root, _, names in os.walk(base):
        rel = os.path.relpath(root, base)
        out.extend(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/")
                   for name in names if os.path.isfile(os.path.join(root, name)))  # not a dangling link
    return out


def _shards(index_file):
    """The shard file names a `*.index.json` lists, relative to its folder (names reaching outside refused)."""
    from keras_bert_suite.checkpoints.safetensors_io import read_shard_index

    folder = os.path.dirname(os.path.abspath(index_file))
    shards = read_shard_index(index_file).values()
    return sorted({os.path.relpath(shard, folder).replace(os.sep, "/") for shard in shards})


def _select(kind, extra_files, present, fetch, repo_id, where):
    """The files to fetch (relative to the subfolder) from the names `present`, in order.

    `fetch(name)` gives the local path of `name` (downloading it online), used here to read shard indexes.
    """
    present = set(present)
    missing = [name for name in _REQUIRED[kind] if name not in present]
    if missing:
        raise PretrainedNotFoundError(f"{repo_id!r} has no {', '.join(missing)} ({where})")
    chosen = list(_REQUIRED[kind])
    if kind == "tokenizer":
        vocab = [name for name in VOCAB_FILES if name in present][:1]
        if not vocab:
            raise PretrainedNotFoundError(
                f"{repo_id!r} has no vocabulary ({where}); looked for {', '.join(VOCAB_FILES)}"
            )
        chosen += vocab + [name for name in TOKENIZER_FILES if name in present and name not in vocab]
    if kind == "model":
        for name in WEIGHTS_FILES:
            if name not in present:
                continue
            if not name.endswith(".index.json"):
                chosen.append(name)
                if name == "model.weights.h5":
                    chosen += [task for task in KERAS_HUB_TASK_FILES if task in present]
                break
            shards = _shards(fetch(name))
            if shards and all(shard in present for shard in shards):
                chosen += [name] + shards
                break
        else:
            raise PretrainedNotFoundError(
                f"{repo_id!r} has no BERT weights ({where}); looked for {', '.join(WEIGHTS_FILES)}"
            )
    for pattern in extra_files:
        matches = sorted(name for name in present if fnmatch.fnmatchcase(name, pattern))
        chosen += [name for name in matches if name not in chosen]
    return chosen


def _with_id(exc, repo_id, revision):
    """`exc` (a huggingface_hub HTTP error) again, of the same type, its message led by the repo id."""
    message = f"{repo_id!r} (revision {revision or 'main'!r}): {exc}"
    try:
        new = type(exc)(message, response=getattr(exc, "response", None))
    except TypeError:
        new = OSError(message)
    return new


def _list_remote(repo_id, revision, token, subfolder, endpoint):
    from huggingface_hub import HfApi

    files = HfApi(endpoint=endpoint).list_repo_files(repo_id, revision=revision, token=token)
    prefix = subfolder.strip("/") + "/" if subfolder else ""
    return [name[len(prefix):] for name in files if name.startswith(prefix)]


def resolve_pretrained(name_or_path, *, kind="model", revision=None, cache_dir=None, token=None,
                       local_files_only=False, force_download=False, subfolder="", extra_files=()) -> str:
    """A local folder holding what `kind` needs of `name_or_path`, a local path or a Hugging Face Hub id.

    Args:
        name_or_path: an existing folder or file (returned as is, joined with `subfolder`), or a Hub repo id.
        kind: "model", "config", "tokenizer" or None (see the module docstring for the files of each).
        revision: branch, tag or commit of the repo (default "main").
        cache_dir: the Hub cache folder (default: HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub).
        token: a Hub token for private or gated repos (default: huggingface_hub's, e.g. HF_TOKEN).
        local_files_only: never download; use the cache only (also when HF_HUB_OFFLINE=1).
        force_download: download again even if cached.
        subfolder: a folder inside the repo (or local folder) holding the files.
        extra_files: more names or glob patterns (relative to `subfolder`) to fetch where present.

    Returns:
        The local folder: `name_or_path/subfolder`, or `<cache>/models--org--name/snapshots/<commit>/subfolder`.

    Raises:
        InvalidPretrainedNameError: neither an existing path nor a valid repo id (names it).
        PretrainedNotFoundError: offline and not cached (names the id, the cache folder and HF_HUB_OFFLINE),
            or the repo lacks a required file or any weights (lists the names looked for).
        huggingface_hub.errors.HfHubHTTPError and subclasses (GatedRepoError, RepositoryNotFoundError, ...):
            the Hub's refusal, its message led by the repo id, the original as `__cause__`.

    Example:
        >>> resolve_pretrained("sentence-transformers/all-MiniLM-L6-v2",  # doctest: +SKIP
        ...                    extra_files=("modules.json", "1_Pooling/config.json"))
        '/home/me/.cache/huggingface/hub/models--sentence-transformers--all-MiniLM-L6-v2/snapshots/c9745...'
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if isinstance(extra_files, str):
        extra_files = (extra_files,)
    path = os.fspath(name_or_path)
    subfolder = (subfolder or "").strip("/")
    local = _join(path, subfolder)
    if os.path.exists(local) or (kind == "model" and os.path.exists(local + ".index")):
        return local
    repo_id = _repo_id(path, kind)
    cache_dir = os.fspath(cache_dir) if cache_dir else default_cache_dir()
    with _offline_constant(env_offline()):
        return _resolve_id(repo_id, kind, revision, cache_dir, token, bool(local_files_only), force_download,
                           subfolder, extra_files)


def _resolve_id(repo_id, kind, revision, cache_dir, token, local_files_only, force_download, subfolder,
                extra_files):
    """`resolve_pretrained` for a Hub id, inside `_offline_constant`: the snapshot folder."""
    from huggingface_hub import constants, hf_hub_download
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import Timeout

    endpoint = _endpoint()
    present = None
    why = (f"downloads are off (HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', '')!r}, "
           f"local_files_only={local_files_only})")
    if not (local_files_only or constants.HF_HUB_OFFLINE):
        try:
            present = _list_remote(repo_id, revision, token, subfolder, endpoint)
        except (RequestsConnectionError, Timeout, OfflineModeIsEnabled) as exc:
            present = None  # unreachable: fall back to the cache
            why = f"the Hub at {endpoint or constants.ENDPOINT} could not be reached ({type(exc).__name__})"
        except HfHubHTTPError as exc:
            raise _with_id(exc, repo_id, revision) from exc

    if present is None:
        base = _join(_cached_snapshot(repo_id, revision, cache_dir, why), subfolder)
        where = f"cached in {base!r}"
        _select(kind, extra_files, _cached_files(base) if os.path.isdir(base) else (),
                lambda name: os.path.join(base, name), repo_id, where)
        return base

    def download(name):
        try:
            return hf_hub_download(repo_id, name, subfolder=subfolder or None, revision=revision,
                                   cache_dir=cache_dir, token=token, force_download=force_download,
                                   endpoint=endpoint)
        except HfHubHTTPError as exc:
            raise _with_id(exc, repo_id, revision) from exc

    where = f"files of revision {revision or 'main'!r}" + (f" under {subfolder!r}" if subfolder else "")
    fetched = {}

    def fetch(name):
        if name not in fetched:
            fetched[name] = download(name)
        return fetched[name]

    chosen = _select(kind, extra_files, present, fetch, repo_id, where)
    if not chosen:  # kind=None and no extra file present: config.json makes the snapshot folder exist
        if CONFIG_FILE not in present:
            looked_for = ", ".join([*extra_files, CONFIG_FILE])
            raise PretrainedNotFoundError(f"{repo_id!r} has none of {looked_for} ({where})")
        chosen = [CONFIG_FILE]
    for name in chosen:
        fetch(name)
    return _join(_cached_snapshot(repo_id, revision, cache_dir, "nothing was downloaded"), subfolder)
