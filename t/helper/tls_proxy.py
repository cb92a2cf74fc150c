#!/usr/bin/env python3
"""A TLS terminator in front of a plain-HTTP server, for the CA tests.

tls_proxy.py CERT KEY BACKEND-PORT: listens on 127.0.0.1, port 0, prints
its https:// URL, and relays each connection's bytes, decrypted, to
127.0.0.1:BACKEND-PORT and back, as a proxy does that passes 'Upgrade'
(a byte relay passes everything). It offers only http/1.1 in ALPN: it
speaks no HTTP/2 (the proxy tests run real nginx and caddy for that).
"""
import socket
import ssl
import sys
import threading

CERT, KEY, BACKEND = sys.argv[1], sys.argv[2], int(sys.argv[3])
IO = 64 * 1024

ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(CERT, KEY)
ctx.set_alpn_protocols(["http/1.1"])


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
