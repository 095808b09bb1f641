"""A Hugging Face Hub stand-in for tests: a pre-seeded cache, and a loopback HTTP server speaking the part of the
Hub's API that huggingface_hub 0.36 uses to list and download a model repo.

    seed_cache(cache_dir, "org/name", folder)      # cache/models--org--name/{refs/main, snapshots/<commit>/...}
    with FakeHub({"org/name": folder}, gated={"org/gated"}) as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        ...                                         # hub.requests: [(method, path), ...]

Served routes: GET /api/models/{repo}/tree/{revision}?recursive=... (the file list), HEAD and GET
/{repo}/resolve/{revision}/{path} (X-Repo-Commit, ETag, X-Linked-Etag, Content-Length headers). Repos in `gated`
answer 403 with X-Error-Code: GatedRepo; those in `gated_downloads` list their files, as the Hub does, and refuse
only downloads so. Unknown repos answer 401 with X-Error-Code: RepoNotFound, as the Hub does without a token.
"""

import hashlib
import http.server
import json
import os
import urllib.parse

from loopback import LoopbackServer

COMMIT = "0123456789abcdef0123456789abcdef01234567"


def _files(folder):
    out = []
    for root, _, names in os.walk(folder):
        for name in names:
            out.append(os.path.relpath(os.path.join(root, name), folder).replace(os.sep, "/"))
    return sorted(out)


def seed_cache(cache_dir, repo_id, folder, commit=COMMIT, revision="main"):
    """Lay `folder`'s files out in `cache_dir` as huggingface_hub would after downloading `repo_id` (symlinks
    from the snapshot to the files, as its cache links snapshots to blobs). Returns the snapshot folder."""
    repo = os.path.join(cache_dir, "models--" + repo_id.replace("/", "--"))
    os.makedirs(os.path.join(repo, "refs"), exist_ok=True)
    with open(os.path.join(repo, "refs", revision), "w") as f:
        f.write(commit)
    snapshot = os.path.join(repo, "snapshots", commit)
    for name in _files(folder):
        target = os.path.join(snapshot, *name.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(os.path.abspath(os.path.join(folder, *name.split("/"))), target)
    return snapshot


class FakeHub(LoopbackServer):
    """A loopback HTTP server standing in for https://huggingface.co; `repos` maps repo ids to local folders."""

    def __init__(self, repos, gated=(), gated_downloads=(), commit=COMMIT):
        self.repos = dict(repos)
        self.gated = set(gated)
        self.gated_downloads = set(gated_downloads)
        self.commit = commit
        self.requests = []
        hub = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                hub._answer(self, body=False)

            def do_GET(self):
                hub._answer(self, body=True)

        super().__init__(Handler)

    def downloaded(self):
        """The file paths fetched with GET (repo, path) in order."""
        return [p for m, p in self.requests if m == "GET" and "/resolve/" in p]

    def _split(self, rest):
        """(repo_id, remainder) for a path starting with a repo id."""
        for repo_id in sorted(set(self.repos) | self.gated, key=len, reverse=True):
            if rest == repo_id or rest.startswith(repo_id + "/"):
                return repo_id, rest[len(repo_id) + 1:]
        parts = rest.split("/")
        return "/".join(parts[:2]), "/".join(parts[2:])

    def _answer(self, handler, body):
        url = urllib.parse.urlsplit(handler.path)
        path = urllib.parse.unquote(url.path)
        self.requests.append((handler.command, path))
        api = path.startswith("/api/models/")
        repo_id, rest = self._split(path[len("/api/models/"):] if api else path[1:])
        if repo_id in self.gated:
            return self._send(handler, 403, b'{"error": "gated"}', {"X-Error-Code": "GatedRepo"}, body)
        if repo_id not in self.repos:
            return self._send(handler, 401, b'{"error": "Repository not found"}',
                              {"X-Error-Code": "RepoNotFound"}, body)
        folder = self.repos[repo_id]
        if api and rest.startswith("tree/"):
            listing = [{"type": "file", "path": name, "oid": "0" * 40,
                        "size": os.path.getsize(os.path.join(folder, name))} for name in _files(folder)]
            return self._send(handler, 200, json.dumps(listing).encode(), {"Content-Type": "application/json"}, body)
        if not api and rest.startswith("resolve/") and repo_id in self.gated_downloads:
            return self._send(handler, 403, b'{"error": "gated"}', {"X-Error-Code": "GatedRepo"}, body)
        if not api and rest.startswith("resolve/"):
            name = rest.split("/", 2)[2] if rest.count("/") >= 2 else ""
            file = os.path.join(folder, *name.split("/"))
            if not name or not os.path.isfile(file):
                return self._send(handler, 404, b"Entry not found", {"X-Error-Code": "EntryNotFound"}, body)
            with open(file, "rb") as f:
                data = f.read()
            etag = '"' + hashlib.sha1(data).hexdigest() + '"'
            return self._send(handler, 200, data, {"X-Repo-Commit": self.commit, "ETag": etag,
                                                   "X-Linked-Etag": etag}, body)
        return self._send(handler, 404, b"not found", {}, body)

    @staticmethod
    def _send(handler, status, data, headers, body):
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        if body:
            handler.wfile.write(data)


def offline_examples(examples_file, cache_dir, folder):
    """Import an examples file (one that lists its Hub ids in `HUB_IDS`) with every id seeded in `cache_dir` from
    `folder`, for offline runs; yields the module with HF_HUB_OFFLINE=1 and HF_HUB_CACHE=cache_dir set (a pytest
    fixture's body: `yield from offline_examples(...)`)."""
    import importlib.util

    import pytest

    name = os.path.splitext(os.path.basename(examples_file))[0]
    spec = importlib.util.spec_from_file_location(name, examples_file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for hub_id in module.HUB_IDS:
        seed_cache(cache_dir, hub_id, folder)
    patch = pytest.MonkeyPatch()
    patch.setenv("HF_HUB_OFFLINE", "1")
    patch.setenv("HF_HUB_CACHE", cache_dir)
    yield module
    patch.undo()
