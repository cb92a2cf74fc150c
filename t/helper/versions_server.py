#!/usr/bin/env python3
"""A server whose versions are whatever a test wants, for t/0442.

versions_server.py DIR: listens on 127.0.0.1, port 0, and prints its URL.
GET /api/v1/tree and /api/v1/history answer with the bytes of DIR/tree
and DIR/history, GET /api/v1/blob/<anything> with the bytes of DIR/blob,
each read at each request. Every request line goes to DIR/requests;
anything else is refused with soc's 400, so nothing a client sends lands.
"""
import http.server
import json
import os
import sys

DIR = sys.argv[1]


def read(name):
    try:
        with open(os.path.join(DIR, name), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


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

    def do_GET(self):
        with open(os.path.join(DIR, "requests"), "a") as f:
            f.write("%s %s\n" % (self.command, self.path))
        if self.path.startswith("/api/v1/tree?"):
            self.answer(200, read("tree"), "application/x-ndjson")
        elif self.path.startswith("/api/v1/history?"):
            self.answer(200, read("history"), "application/x-ndjson")
        elif self.path.startswith("/api/v1/blob/"):
            self.answer(200, read("blob"), "application/octet-stream")
        else:
            self.answer(400, json.dumps({"error": "bad_request", "message": "no"}).encode(),
                        "application/json")

    def do_POST(self):
        self.do_GET()


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print("http://127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
