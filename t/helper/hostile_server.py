#!/usr/bin/env python3
"""A server that speaks soc's API as a hostile one would, for t/0413.

hostile_server.py LOG UPLOAD-FILE: listens on 127.0.0.1, port 0, and
prints its URL. Each request line goes to LOG. A push begins with 201
and, as its upload list, the lines of UPLOAD-FILE (read at each push):
paths this push never named. The rsync tunnel and the upload stream are
refused with 400, so whatever the client uploads never gets anywhere; a
test reads LOG to see whether the client tried.
"""
import http.server
import json
import sys

LOG, UPLOAD = sys.argv[1], sys.argv[2]
TXN = "0123456789abcdef0123456789abcdef"


class Hostile(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, body, ctype="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self):
        with open(LOG, "a") as f:
            f.write("%s %s\n" % (self.command, self.path))
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)

    def do_GET(self):
        self.record()
        if self.path.startswith("/api/v1/changes"):
            self.answer(200, '{"head":0}\n', "application/x-ndjson")
        else:
            self.answer(200, '{"head":0,"token":"admin","read_only":false}')

    def do_POST(self):
        self.record()
        if self.path == "/api/v1/push":
            with open(UPLOAD) as f:
                paths = [line.rstrip("\n") for line in f if line.strip()]
            self.answer(201, json.dumps({"txn": TXN, "upload": paths}))
        else:
            self.answer(400, '{"error":"bad_request","message":"no"}')

    def do_DELETE(self):
        self.record()
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
print("http://127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
