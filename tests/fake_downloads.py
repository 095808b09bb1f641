"""A download source for tests: a loopback HTTP server over a folder, and GLUE's SST-2.zip laid out as
tensorflow-datasets' `glue/sst2` builder reads it, made from real SST-2 rows.

    sst2_zip(tmp_path / "site" / "SST-2.zip", train_rows=64, dev_rows=32)
    with FileServer(tmp_path / "site") as site:
        url = site.url + "/SST-2.zip"              # site.requests: [(method, path), ...]
"""

import http.server
import os
import socket
import zipfile

from data_helpers import head_lines, shared
from loopback import LoopbackServer


def sst2_zip(path, train_rows, dev_rows):
    """Write GLUE's SST-2.zip (SST-2/train.tsv, dev.tsv, test.tsv, headers as GLUE's) holding the first rows of
    the shared SST-2 copy. Returns `path`."""
    train = head_lines(shared("sst2", "train.tsv"), train_rows + 1)[1:]
    dev = head_lines(shared("sst2", "dev.tsv"), dev_rows + 1)[1:]
    test = [f"{n}\t{line.split(chr(9))[0]}\n" for n, line in enumerate(dev[:4])]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("SST-2/train.tsv", "sentence\tlabel\n" + "".join(train))
        z.writestr("SST-2/dev.tsv", "sentence\tlabel\n" + "".join(dev))
        z.writestr("SST-2/test.tsv", "index\tsentence\n" + "".join(test))
    return path


class FileServer(LoopbackServer):
    """Serves the files of `folder` on 127.0.0.1 (a free port) while the `with` block runs; 404 for others."""

    def __init__(self, folder):
        self.folder = os.fspath(folder)
        self.requests = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=server.folder, **kwargs)

            def log_message(self, *args):
                pass

            def send_head(self):
                server.requests.append((self.command, self.path))
                return super().send_head()

        super().__init__(Handler)


def closed_url(path="/SST-2.zip"):
    """An address on 127.0.0.1 whose port takes no connection (bound for a moment, then closed)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}{path}"
