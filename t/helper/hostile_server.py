#!/usr/bin/env python3
"""A server that speaks soc's API as a hostile one would, for t/0413 and t/0419.

hostile_server.py LOG UPLOAD-FILE [ANSWERS-FILE]: listens on 127.0.0.1,
port 0, and prints its URL. Each request line goes to LOG. A push begins
with 201 and, as its upload list, the lines of UPLOAD-FILE (read at each
push): paths this push never named; in NDJSON to a client that accepts
it, as soc does, but as the one JSON document an older soc sends while a
file UPLOAD-FILE.doc exists. The rsync tunnel and the upload
stream are refused with soc's 400, so whatever the client uploads never
gets anywhere; a test reads LOG to see whether the client tried.

ANSWERS-FILE, read at each request, holds lines "TARGET KIND" that
answer in soc's place as a proxy, a web server or a broken peer would.
TARGET is upload, rsync (the two upgrade requests), push (POST
/api/v1/push), commit, fetch or view; KIND one of ANSWERS below. Its info
says head 1, and its changes since 0 list one file, f. A fetch or a view
not answered so gets what a soc older than them says (404), so that a
pull runs rsync, from module pull.
"""
import http.server
import json
import os
import sys

LOG, UPLOAD = sys.argv[1], sys.argv[2]
ANSWERS = sys.argv[3] if len(sys.argv) > 3 else None
TXN = "0123456789abcdef0123456789abcdef"
F_SHA256 = "98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4"  # "hi\n"


def raw_http(status, reason, ctype, body, extra=""):
    head = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%sConnection: close\r\n\r\n" % (
        status, reason, ctype, len(body), extra)
    return head.encode() + body


def html(status, reason):
    page = ("<html>\r\n<head><title>%d %s</title></head>\r\n<body>\r\n<center><h1>%d %s</h1></center>\r\n"
            "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n" % (status, reason, status, reason))
    return raw_http(status, reason, "text/html", page.encode())


def soc_error(status, reason, code, message):
    return raw_http(status, reason, "application/json",
                json.dumps({"error": code, "message": message}).encode())


# What a client may meet in place of soc's 101: None closes without a word.
ANSWERS_BYTES = {
    "400json": soc_error(400, "Bad Request", "bad_request", "the rsync tunnel needs 'Upgrade: soc-rsync'"),
    "400html": html(400, "Bad Request"),
    "200": raw_http(200, "OK", "application/json", b'{"ok":true}'),
    "502html": html(502, "Bad Gateway"),
    "close": None,
    # An h2 server's first frame (SETTINGS, empty), and the h2 preface.
    "h2settings": b"\x00\x00\x00\x04\x00\x00\x00\x00\x00",
    "h2preface": b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00",
    "garbage": b"\xff\xfe\x00garbage\x01\x02\r\n\r\n\x00",
    "badstatus": b"HTTP/1.1 ok fine\r\n\r\n",
    "404json": soc_error(404, "Not Found", "not_found", "no such push"),
    # What an older soc, or a busy one, says to an upload: the client falls back to rsync.
    "404endpoint": soc_error(404, "Not Found", "not_found", "no such endpoint"),
    # Fetch answers for f ("hi\n"): a record longer than the file, other bytes, no record at all.
    "fetchlong": raw_http(200, "OK", "application/octet-stream", b"F" + (4).to_bytes(8, "big") + b"hi\n!"),
    "fetchother": raw_http(200, "OK", "application/octet-stream", b"F" + (3).to_bytes(8, "big") + b"ho\n"),
    "fetchnone": raw_http(200, "OK", "application/octet-stream", b""),
    # A delta for f, which the client has no base for: a literal cut short.
    "fetchdelta": raw_http(200, "OK", "application/octet-stream", b"D" + (2).to_bytes(8, "big") + b"L\0"),
    "503json": soc_error(503, "Service Unavailable", "busy", "too many uploads"),
    "413html": html(413, "Request Entity Too Large"),
    "413json": soc_error(413, "Payload Too Large", "too_large", "the push lists more than soc takes"),
}


def answer_for(target):
    if not ANSWERS:
        return None
    with open(ANSWERS) as f:
        for line in f:
            words = line.split()
            if len(words) == 2 and words[0] == target:
                return words[1]
    return None


class Hostile(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, body, ctype="application/json"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def raw(self, kind):
        data = ANSWERS_BYTES[kind]
        if data is not None:
            self.wfile.write(data)
            self.wfile.flush()
        self.close_connection = True

    def record(self):
        with open(LOG, "a") as f:
            f.write("%s %s\n" % (self.command, self.path))
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)

    def do_GET(self):
        self.record()
        if self.path.startswith("/api/v1/changes"):
            lines = '{"head":1}\n'
            if self.path.endswith("since=0") and ANSWERS:
                lines += json.dumps({"path": "f", "sha256": F_SHA256, "size": 3, "mtime": 1700000000,
                                     "mode": 420, "rev": 1}) + "\n"
            self.answer(200, lines if ANSWERS else '{"head":0}\n', "application/x-ndjson")
        else:
            self.answer(200, '{"head":%d,"token":"admin","read_only":false}' % (1 if ANSWERS else 0))

    def do_POST(self):
        self.record()
        if self.path == "/api/v1/rsync":
            target = "rsync"
        elif self.path.endswith("/upload"):
            target = "upload"
        elif self.path.endswith("/commit"):
            target = "commit"
        elif self.path == "/api/v1/fetch":
            target = "fetch"
        elif self.path == "/api/v1/view":
            target = "view"
        else:
            target = "push"
        kind = answer_for(target)
        if kind:
            self.raw(kind)
        elif target == "push":
            with open(UPLOAD) as f:
                paths = [line.rstrip("\n") for line in f if line.strip()]
            if "application/x-ndjson" in (self.headers.get("Accept") or "") and not os.path.exists(UPLOAD + ".doc"):
                lines = [json.dumps({"txn": TXN})] + [json.dumps(p) for p in paths]
                self.answer(201, "".join(line + "\n" for line in lines), "application/x-ndjson")
            else:
                self.answer(201, json.dumps({"txn": TXN, "upload": paths}))
        elif target in ("fetch", "view"):
            self.answer(404, '{"error":"not_found","message":"no such endpoint"}')
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
