#!/usr/bin/env python3
"""A TLS terminator in front of a plain-HTTP server, for the CA tests.

tls_proxy.py CERT KEY BACKEND-PORT: listens on 127.0.0.1, port 0, prints
its https:// URL, and relays each connection's bytes, decrypted, to
127.0.0.1:BACKEND-PORT and back, as a proxy does that passes 'Upgrade'
(a byte relay passes everything). It offers only http/1.1 in ALPN: it
speaks no HTTP/2 (the proxy tests run real nginx and caddy for that).

tls_proxy.py CERT KEY h2: no backend; it offers h2 first, as caddy and
nginx with http2 do, and answers a client that took h2 with an h2
SETTINGS frame, one that took http/1.1 with soc's 400 for a request
without 'Upgrade' (what soc serve says behind such a proxy).
"""
import socket
import ssl
import sys
import threading

CERT, KEY = sys.argv[1], sys.argv[2]
H2 = sys.argv[3] == "h2"
BACKEND = None if H2 else int(sys.argv[3])
IO = 64 * 1024
REFUSAL = b'{"error":"bad_request","message":"the rsync tunnel needs \'Upgrade: soc-rsync\'"}'

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
ctx.set_alpn_protocols(["h2", "http/1.1"] if H2 else ["http/1.1"])


def h2_answer(tls):
    if tls.selected_alpn_protocol() == "h2":
        tls.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    else:
        tls.recv(IO)
        tls.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(REFUSAL), REFUSAL))
    try:
        tls.recv(IO)
    except OSError:
        pass
    tls.close()


def pump(src, dst):
    try:
        while True:
            data = src.recv(IO)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    # The other way may still carry an answer: close only this half.
    try:
        dst.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve(raw):
    try:
        tls = ctx.wrap_socket(raw, server_side=True)
    except (OSError, ssl.SSLError):
        # A client that does not trust the certificate ends here.
        raw.close()
        return
    if H2:
        h2_answer(tls)
        return
    back = socket.create_connection(("127.0.0.1", BACKEND))
    up = threading.Thread(target=pump, args=(tls, back), daemon=True)
    up.start()
    pump(back, tls)
    up.join()
    tls.close()
    back.close()


listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print("https://127.0.0.1:%d" % listener.getsockname()[1], flush=True)
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
