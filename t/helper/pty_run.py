#!/usr/bin/env python3
"""Runs a command with a fresh pseudo-terminal as its controlling terminal,
as a person at a terminal would, and reports what the terminal saw.

    pty_run.py [--expect TEXT] [--send LINE | --interrupt] OUT -- CMD [ARG...]

Waits for TEXT in the command's output (its stdin, stdout and stderr are
the terminal), then notes whether the terminal echoes at that moment and
types LINE and Enter, or ^C. Everything the terminal showed goes to OUT.
Prints three lines on stdout: echo-at-prompt=on|off|none (none: no
--expect), echo-after=on|off (once the command has ended), status=N (its
exit code, or 128 + the signal that ended it).
"""
import argparse
import errno
import os
import pty
import select
import signal
import sys
import termios
import time

TIMEOUT = 30  # seconds for the prompt, and again for the end


def read_some(fd, deadline):
    """Bytes from the terminal, b'' once the command closed it, None on timeout."""
    left = deadline - time.monotonic()
    if left <= 0:
        return None
    ready, _, _ = select.select([fd], [], [], left)
    if not ready:
        return None
    try:
        return os.read(fd, 4096)
    except OSError as e:
        if e.errno == errno.EIO:  # Linux: the slave side is closed
            return b""
        raise


def echo_state(fd):
    # On Linux the master's TCGETS reads the slave's settings.
    return "on" if termios.tcgetattr(fd)[3] & termios.ECHO else "off"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--expect")
    ap.add_argument("--send")
    ap.add_argument("--interrupt", action="store_true")
    ap.add_argument("out")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd

    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        finally:
            os._exit(127)

    seen = b""
    at_prompt = "none"
    if a.expect:
        want = a.expect.encode()
        deadline = time.monotonic() + TIMEOUT
        while want not in seen:
            got = read_some(fd, deadline)
            if not got:
                break
            seen += got
        if want not in seen:
            sys.stderr.write("pty_run: no %r in %r\n" % (a.expect, seen))
        else:
            at_prompt = echo_state(fd)
            if a.interrupt:
                os.write(fd, b"\x03")
            elif a.send is not None:
                os.write(fd, a.send.encode() + b"\n")
    deadline = time.monotonic() + TIMEOUT
    while True:
        got = read_some(fd, deadline)
        if got is None:
            sys.stderr.write("pty_run: the command did not end; killed\n")
            os.kill(pid, signal.SIGKILL)
        if not got:
            break
        seen += got
    after = echo_state(fd)
    try:
        _, st = os.waitpid(pid, 0)
    finally:
        os.close(fd)
    status = os.WEXITSTATUS(st) if os.WIFEXITED(st) else 128 + os.WTERMSIG(st)
    with open(a.out, "wb") as f:
        f.write(seen)
    print("echo-at-prompt=%s" % at_prompt)
    print("echo-after=%s" % after)
    print("status=%d" % status)


if __name__ == "__main__":
    main()
