#!/usr/bin/env python3
"""upload.py: speak soc's upload stream by hand, as upload.c does, or not.

The t/0418 test uses it to send what soc never would: a path outside the
push, a wrong size, a cut record, a stream that stalls.

  upload.py URL TOKEN TXN [options] [PATH:SIZE:FILE ...]

Each record is PATH with SIZE bytes taken from FILE (padded with zero
bytes when FILE is shorter). Prints the status of the upgrade request;
after a 101, the server's last line (or "closed" when there was none);
else the response body.

  --upgrade NAME  the Upgrade: header (default soc-upload)
  --pause S       after the 101, print "upgraded" and wait S seconds
  --cut           send half of the last record, then half-close
  --no-end        send no end marker, then half-close
"""
import socket
import struct
import sys
import time
import urllib.parse


def main(argv):
    url, token, txn = argv[0], argv[1], argv[2]
    proto, pause, cut, end = "soc-upload", 0.0, False, True
    records = []
    i = 3
    while i < len(argv):
        a = argv[i]
        if a == "--upgrade":
            proto = argv[i + 1]; i += 1
        elif a == "--pause":
            pause = float(argv[i + 1]); i += 1
        elif a == "--cut":
            cut = True
        elif a == "--no-end":
            end = False
        else:
            path, size, name = a.split(":", 2)
            with open(name, "rb") as f:
                data = f.read()[:int(size)]
            records.append((path.encode(), data.ljust(int(size), b"\0")))
        i += 1
    u = urllib.parse.urlsplit(url)
    s = socket.create_connection((u.hostname, u.port))
    s.sendall(("POST /api/v1/push/%s/upload HTTP/1.1\r\nHost: %s\r\n"
               "Authorization: Bearer %s\r\nConnection: Upgrade\r\nUpgrade: %s\r\n"
               "Content-Length: 0\r\n\r\n" % (txn, u.netloc, token, proto)).encode())
    got = b""
    while b"\r\n\r\n" not in got:
        more = s.recv(4096)
        if not more:
            break
        got += more
    head, _, rest = got.partition(b"\r\n\r\n")
    status = head.split(b" ")[1].decode() if head else "none"
    print(status, flush=True)
    if status != "101":
        # The body is Content-Length bytes: a kept-alive connection never says it ended.
        length = None
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        s.settimeout(2)
        try:
            while length is None or len(rest) < length:
                more = s.recv(4096)
                if not more:
                    break
                rest += more
        except socket.timeout:
            pass
        print(rest.decode(errors="replace"))
        return 0
    if pause:
        print("upgraded", flush=True)
        time.sleep(pause)
    out = b""
    for n, (path, data) in enumerate(records):
        out += struct.pack(">HQ", len(path), len(data)) + path
        if cut and n == len(records) - 1:
            out += data[:len(data) // 2]
            end = False
        else:
            out += data
    if end:
        out += b"\0\0"
    try:
        s.sendall(out)
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    s.settimeout(10)
    answer = rest
    try:
        while b"\n" not in answer:
            more = s.recv(4096)
            if not more:
                break
            answer += more
    except OSError:
        pass
    print(answer.decode(errors="replace").strip() or "closed")
    return 0


sys.exit(main(sys.argv[1:]))
