"""A threaded HTTP server on 127.0.0.1 (a free port) for the tests' stand-ins of outside hosts (fake_hub.py,
fake_downloads.py): it serves while the `with` block runs.

    class MyHost(LoopbackServer):
        def __init__(self):
            super().__init__(MyHandler)      # an http.server.BaseHTTPRequestHandler subclass
    with MyHost() as host:
        host.url                             # "http://127.0.0.1:<port>"
"""

import http.server
import threading


class LoopbackServer:
    def __init__(self, handler_class):
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_class)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
