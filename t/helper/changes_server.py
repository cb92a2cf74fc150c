#!/usr/bin/env python3
"""A server whose change stream is whatever a test wants, for t/0420.

changes_server.py DIR: listens on 127.0.0.1, port 0, and prints its URL.
GET /api/v1/changes answers with the status in DIR/status (200 when the
file is missing) and the bytes of DIR/changes, both read at each request;
a status other than 200 gets soc's JSON error body instead. Its info
says head 1. Every request line goes to DIR/requests; anything but those
two GETs is refused with soc's 400, so nothing a client sends lands.
"""
import http.server
import json
import os
import sys

DIR = sys.argv[1]


def read(name, default):
    try:
        with open(os.path.join(DIR, name), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return default


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def refuse(self, status, message):
        self.answer(status, json.dumps({"error": "bad_request", "message": message}).encode(),
                    "application/json")

    def record(self):
        with open(os.path.join(DIR, "requests"), "a") as f:
            f.write("%s %s\n" % (self.command, self.path))
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)

    def do_GET(self):
        self.record()
        if self.path.startswith("/api/v1/changes?since="):
            status = int(read("status", b"200"))
            if status != 200:
                return self.refuse(status, "no changes here")
            self.answer(200, read("changes", b""), "application/x-ndjson")
        elif self.path == "/api/v1/info":
            self.answer(200, b'{"version":"0","head":1,"read_only":false}', "application/json")
        else:
            self.refuse(404, "no such endpoint")

    def do_POST(self):
        self.record()
        self.refuse(400, "this server takes nothing")

    do_PUT = do_DELETE = do_POST


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
print("http://127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
