"""The answer a connection gets when the control endpoint already serves its cap.

The server's own thread must never wait on a client, so it hands each
connection over the cap to one thread here, which reads the request head (so
that closing does not reset the connection before the answer arrives),
answers ``503`` with a reason, and closes. It waits at most ``GRACE`` seconds
for each read; past ``BACKLOG`` waiting connections the rest are closed
unanswered.
"""

from __future__ import annotations

import queue
import select
import socket
import threading

GRACE = 0.5
BACKLOG = 64
_BODY = (b'{"error": "too many connections to the control endpoint: close a dashboard tab '
         b'or a tap, or try again"}')
ANSWER = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
          b"Content-Length: %d\r\nRetry-After: 1\r\nConnection: close\r\n\r\n" % len(_BODY)
          + _BODY)


class Refuser:
    """One thread that answers 503 to the connections handed to it, one at a time."""

    def __init__(self) -> None:
        self._queue: queue.Queue[socket.socket | None] = queue.Queue(BACKLOG)
        self._thread = threading.Thread(target=self._run, name="nanonet-control-busy",
                                        daemon=True)
        self._thread.start()

    def refuse(self, sock: socket.socket) -> None:
        try:
            self._queue.put_nowait(sock)
        except queue.Full:
            sock.close()

    def close(self) -> None:
        while True:  # drop what waits, then wake the thread with the end mark
            try:
                waiting = self._queue.get_nowait()
            except queue.Empty:
                break
            if waiting is not None:
                waiting.close()
        self._queue.put(None)
        self._thread.join(5.0)

    def _run(self) -> None:
        while (sock := self._queue.get()) is not None:
            try:
                _answer(sock)
            except OSError:
                pass  # the client left first: nothing is owed to it
            finally:
                sock.close()


def _answer(sock: socket.socket) -> None:
    sock.settimeout(GRACE)
    _read_head(sock)
    sock.sendall(ANSWER)
    sock.shutdown(socket.SHUT_WR)
    sock.setblocking(False)
    try:
        while sock.recv(65536):  # what else has arrived, so that closing sends no reset
            pass
    except BlockingIOError:
        pass


def _read_head(sock: socket.socket) -> None:
    """Read the request head (up to its blank line), waiting at most ``GRACE`` per read."""
    seen = b""
    while b"\r\n\r\n" not in seen and len(seen) < (64 << 10):
        ready, _, _ = select.select([sock], [], [], GRACE)
        chunk = sock.recv(65536) if ready else b""
        if not chunk:
            return
        seen += chunk
