#!/usr/bin/env python3
"""rawhttp.py: send exact bytes to an HTTP server and report what came back.

The t/02NN tests use it to send what curl never would (bad framing, huge
heads, a byte at a time) and to see whether the server closed the socket.

  rawhttp.py URL [options] < request-bytes

Prints one line per response read, "STATUS Connection-header", e.g.
"431 close" or "200 -", then "closed" if the server closed the connection
within --wait seconds after the last response, "reset" if it reset it, or
"open" if it did not.

  --responses N   responses to read (default 1)
  --bytewise S    send one byte every S seconds
  --split N       send the first N bytes, wait --pause seconds, send the rest
  --pause S       (default 0.3)
  --shut          half-close (shutdown SHUT_WR) after sending
  --wait S        how long to wait for the close (default 3)
  --body          also print each response body on its own line
  --ready FILE    create FILE once in place: the first part sent (--split),
                  else the responses read; a test signals the server then
"""
import socket
import sys
import time


def parse_args(argv):
    opts = {"responses": 1, "bytewise": None, "split": None, "pause": 0.3,
            "shut": False, "wait": 3.0, "body": False, "ready": None}
    url = argv[0]
    i = 1
    while i < len(argv):
        a = argv[i]
        if a in ("--shut", "--body"):
            opts[a[2:]] = True
        elif a == "--responses":
            opts["responses"] = int(argv[i + 1]); i += 1
        elif a == "--ready":
            opts["ready"] = argv[i + 1]; i += 1
        elif a in ("--bytewise", "--pause", "--wait"):
            opts[a[2:]] = float(argv[i + 1]); i += 1
        elif a == "--split":
            opts["split"] = int(argv[i + 1]); i += 1
        else:
            sys.exit("rawhttp: unknown option " + a)
        i += 1
    hostport = url.split("//", 1)[1].rstrip("/")
    host, port = hostport.rsplit(":", 1)
    return host, int(port), opts


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""
        self.eof = None  # None, "closed" or "reset"

    def more(self):
        if self.eof:
            return False
        try:
            d = self.sock.recv(65536)
        except ConnectionResetError:
            self.eof = "reset"
            return False
        except socket.timeout:
            raise
        if not d:
            self.eof = "closed"
            return False
        self.buf += d
        return True

    def until(self, sep):
        while sep not in self.buf:
            if not self.more():
                return None
        i = self.buf.index(sep) + len(sep)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def take(self, n):
        while len(self.buf) < n:
            if not self.more():
                return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def read_response(r):
    head = r.until(b"\r\n\r\n")
    if head is None:
        return None
    lines = head.decode("latin-1").split("\r\n")
    status = lines[0].split(" ")[1]
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    body = b""
    if status.startswith("1") or status in ("204", "304"):
        pass
    elif "content-length" in headers:
        body = r.take(int(headers["content-length"])) or b""
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int(r.until(b"\r\n").split(b";")[0], 16)
            if size == 0:
                r.until(b"\r\n")
                break
            body += r.take(size)
            r.take(2)
    return status, headers.get("connection", "-").lower(), body


def ready(o):
    if o["ready"]:
        open(o["ready"], "w").close()


def main():
    host, port, o = parse_args(sys.argv[1:])
    data = sys.stdin.buffer.read()
    s = socket.create_connection((host, port), timeout=10)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        if o["bytewise"] is not None:
            for i in range(len(data)):
                s.sendall(data[i:i + 1])
                time.sleep(o["bytewise"])
        elif o["split"] is not None:
            s.sendall(data[:o["split"]])
            ready(o)
            time.sleep(o["pause"])
            s.sendall(data[o["split"]:])
        else:
            s.sendall(data)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered early and closed; read what it said
    if o["shut"]:
        s.shutdown(socket.SHUT_WR)
    r = Reader(s)
    for _ in range(o["responses"]):
        # A 100 Continue is not the answer.
        while True:
            res = read_response(r)
            if res is None or res[0] != "100":
                break
        if res is None:
            print("no response" + (" (" + r.eof + ")" if r.eof else ""))
            break
        print(res[0] + " " + res[1])
        if o["body"]:
            print(res[2].decode("latin-1"))
    if o["split"] is None:
        ready(o)
    s.settimeout(o["wait"])
    try:
        while r.more():
            pass
        print(r.eof)
    except socket.timeout:
        print("open")


main()
