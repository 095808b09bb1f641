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

huggingface_hub does the Hub's work: `HfApi.list_repo_files` lists the repo, `hf_hub_download` fetches each chosen
file (in order, by the revision asked for), `snapshot_download(local_files_only=True)` finds the cached snapshot
of a revision and `try_to_load_from_cache` a cached file. The environment is read at call time: huggingface_hub
copies HF_HUB_OFFLINE, HF_HUB_CACHE, HF_HOME and HF_ENDPOINT into `huggingface_hub.constants` once, when it is
imported, so `resolve_pretrained` reads them from `os.environ` on every call and passes the cache folder, the
endpoint and `local_files_only` as arguments. One thing has no argument: when HF_HUB_OFFLINE was on at
huggingface_hub's import and is off now, its HTTP session still refuses every request, so for that call only
`constants.HF_HUB_OFFLINE` is turned off and the session remade (both restored after it).

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
import json
import os

from huggingface_hub import HfApi, constants, hf_hub_download, snapshot_download, try_to_load_from_cache
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled
from huggingface_hub.utils import HFValidationError, reset_sessions, validate_repo_id
from requests.exceptions import ConnectionError as RequestsConnectionError
from requests.exceptions import Timeout

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
HUB_KWARGS = ("revision", "cache_dir", "token", "local_files_only", "force_download", "subfolder")
_UNREACHABLE = (RequestsConnectionError, Timeout, OfflineModeIsEnabled)


class PretrainedNotFoundError(FileNotFoundError):
    """A Hub id whose files cannot be had: not in the cache while offline, or the repo lacks a needed file."""


class InvalidPretrainedNameError(FileNotFoundError, ValueError):
    """A name that is neither an existing local path nor a valid Hub repo id."""


class ShardIndexError(ValueError):
    """A `*.index.json` shard index that is not JSON, has no `weight_map`, or names a shard outside its folder."""


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
    HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub (huggingface_hub's order,
    which it reads once at import)."""
    for name in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(name):
            return os.path.expanduser(os.path.expandvars(os.environ[name]))
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface"
    )
    return os.path.join(os.path.expanduser(os.path.expandvars(home)), "hub")


@contextlib.contextmanager
def _online_session():
    """huggingface_hub's HTTP session allowed to reach the Hub inside the block, whatever HF_HUB_OFFLINE was at
    its import (the session it caches refuses every request when that was on); restored after the block."""
    if not constants.HF_HUB_OFFLINE:
        yield
        return
    constants.HF_HUB_OFFLINE = False
    reset_sessions()
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = True
        reset_sessions()


def _endpoint():
    value = os.environ.get("HF_ENDPOINT")
    return value.rstrip("/") if value else None


def _repo_id(name, kind):
    try:
        validate_repo_id(name)
    except HFValidationError as exc:
        raise InvalidPretrainedNameError(
            f"no {_WHAT[kind]} at {name!r}: it is not a local folder or file, nor a valid Hugging Face Hub repo "
            f"id ('name' or 'org/name'): {exc}"
        ) from None
    return name


def _join(folder, subfolder):
    return os.path.join(folder, *subfolder.split("/")) if subfolder else folder


def _in_repo(subfolder, name):
    return f"{subfolder}/{name}" if subfolder else name


def _files_under(base):
    """Every file under the folder `base`, as paths relative to it with '/' separators."""
    out = []
    for root, _, names in os.walk(base):
        rel = os.path.relpath(root, base)
        out.extend(name if rel == "." else f"{rel}/{name}".replace(os.sep, "/")
                   for name in names if os.path.isfile(os.path.join(root, name)))  # not a dangling link
    return out


def _shards(index_file):
    """The shard file names a `*.index.json` lists in its `weight_map`, sorted, '/'-separated and relative to
    its folder; a name that is absolute or reaches outside the folder raises ShardIndexError."""
    try:
        with open(index_file, encoding="utf-8") as f:
            index = json.load(f)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ShardIndexError(f"{index_file}: shard index is not valid JSON ({exc})") from None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict) or not weight_map:
        raise ShardIndexError(f"{index_file}: shard index has no 'weight_map' object")
    for shard in weight_map.values():
        parts = shard.replace("\\", "/").split("/") if isinstance(shard, str) else []
        if not shard or not parts or os.path.isabs(shard) or ".." in parts:
            raise ShardIndexError(f"{index_file}: bad shard file name {shard!r} in weight_map")
    return sorted({os.path.normpath(shard).replace(os.sep, "/") for shard in weight_map.values()})


def _weights(present, fetch):
    """The first weights format complete among the names `present`: its files (an index with its shards, a
    KerasHub preset's weights with its task files), or None."""
    for name in WEIGHTS_FILES:
        if name not in present:
            continue
        if not name.endswith(".index.json"):
            tasks = KERAS_HUB_TASK_FILES if name == "model.weights.h5" else ()
            return [name] + [task for task in tasks if task in present]
        shards = _shards(fetch(name))
        if shards and all(shard in present for shard in shards):
            return [name] + shards
    return None


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
        weights = _weights(present, fetch)
        if weights is None:
            raise PretrainedNotFoundError(
                f"{repo_id!r} has no BERT weights ({where}); looked for {', '.join(WEIGHTS_FILES)}"
            )
        chosen += weights
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
        ShardIndexError: the chosen format's shard index is unreadable or names a shard outside its folder.
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
    repo = _Repo(_repo_id(path, kind), revision, os.fspath(cache_dir) if cache_dir else default_cache_dir(),
                 token, subfolder)
    why = (f"downloads are off (HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', '')!r}, "
           f"local_files_only={bool(local_files_only)})")
    if not (local_files_only or env_offline()):
        with _online_session():
            try:
                present = repo.list_remote()
            except _UNREACHABLE as exc:  # fall back to the cache
                why = f"the Hub at {repo.endpoint or constants.ENDPOINT} could not be reached ({type(exc).__name__})"
            else:
                return repo.download(kind, extra_files, present, force_download)
    return repo.from_cache(kind, extra_files, why)


class _Repo:
    """One Hub repo at one revision, its cache folder, token and subfolder: the online and cached halves of
    `resolve_pretrained`."""

    def __init__(self, repo_id, revision, cache_dir, token, subfolder):
        self.id, self.revision, self.cache_dir, self.token, self.subfolder = (
            repo_id, revision, cache_dir, token, subfolder)
        self.endpoint = _endpoint()

    def snapshot(self, why):
        """The cached snapshot folder of the revision (joined with the subfolder); else PretrainedNotFoundError
        naming the id, the revision, the cache and `why` the cache had to serve."""
        try:
            folder = snapshot_download(self.id, revision=self.revision, cache_dir=self.cache_dir,
                                       local_files_only=True)
        except LocalEntryNotFoundError:
            raise PretrainedNotFoundError(
                f"{self.id!r} (revision {self.revision or 'main'!r}) is not a local path and is not in the Hugging "
                f"Face cache {self.cache_dir!r}, and {why}. Download it once online, or set HF_HUB_CACHE / HF_HOME "
                "to the cache that holds it."
            ) from None
        return _join(folder, self.subfolder)

    def from_cache(self, kind, extra_files, why):
        """The cached snapshot folder, once it holds what `kind` and `extra_files` need."""
        base = self.snapshot(why)
        present = _files_under(base) if os.path.isdir(base) else ()
        _select(kind, extra_files, present, self.cached_file, self.id, f"cached in {base!r}")
        return base

    def cached_file(self, name):
        return try_to_load_from_cache(self.id, _in_repo(self.subfolder, name), cache_dir=self.cache_dir,
                                      revision=self.revision)

    def list_remote(self):
        """The repo's file names under the subfolder (relative to it); Hub refusals led by the repo id."""
        try:
            files = HfApi(endpoint=self.endpoint).list_repo_files(self.id, revision=self.revision, token=self.token)
        except HfHubHTTPError as exc:
            raise _with_id(exc, self.id, self.revision) from exc
        prefix = self.subfolder + "/" if self.subfolder else ""
        return [name[len(prefix):] for name in files if name.startswith(prefix)]

    def download(self, kind, extra_files, present, force_download):
        """Fetch what `kind` and `extra_files` need of the names `present` (one request per file, in order);
        the snapshot folder."""
        fetched = {}

        def fetch(name):
            if name not in fetched:
                try:
                    fetched[name] = hf_hub_download(
                        self.id, name, subfolder=self.subfolder or None, revision=self.revision,
                        cache_dir=self.cache_dir, token=self.token, force_download=force_download,
                        endpoint=self.endpoint)
                except HfHubHTTPError as exc:
                    raise _with_id(exc, self.id, self.revision) from exc
            return fetched[name]

        where = f"files of revision {self.revision or 'main'!r}" + (
            f" under {self.subfolder!r}" if self.subfolder else "")
        chosen = _select(kind, extra_files, present, fetch, self.id, where)
        if not chosen:  # kind=None and no extra file present: config.json makes the snapshot folder exist
            if CONFIG_FILE not in present:
                looked_for = ", ".join([*extra_files, CONFIG_FILE])
                raise PretrainedNotFoundError(f"{self.id!r} has none of {looked_for} ({where})")
            chosen = [CONFIG_FILE]
        for name in chosen:
            fetch(name)
        return self.snapshot("nothing was downloaded")
