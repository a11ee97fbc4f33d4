"""``check_ray_address``: a bad ``--address`` fails within seconds, naming what answered (or
not) where Ray will dial, and the fix; real sockets on this machine."""

from __future__ import annotations

import contextlib
import http.server
import socket
import socketserver
import threading
import time

import pytest

from bayesft_tune.errors import UserInputError
from bayesft_tune.search.preflight import check_ray_address


class _GrpcLike(socketserver.BaseRequestHandler):
    """Answers the HTTP/2 preface with an empty SETTINGS frame, as Ray's GCS (a gRPC server) does."""

    def handle(self):
        self.request.recv(64)
        self.request.sendall(b"\x00\x00\x00\x04\x00\x00\x00\x00\x00")


class _QuietWeb(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@contextlib.contextmanager
def _serving(handler, host: str = "0.0.0.0"):
    server = socketserver.ThreadingTCPServer((host, 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def listening():
    """A gRPC-like server on every interface (Ray dials this machine's IP for 127.0.0.1); its port."""
    with _serving(_GrpcLike) as port:
        yield port


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- check_ray_address ---------------------------------------------------------------
@pytest.mark.parametrize("address", [None, "auto", " auto ", "local"])
def test_address_without_network_call_passes(address):
    check_ray_address(address)


def test_listening_address_passes(listening):
    check_ray_address(f"127.0.0.1:{listening}")
    check_ray_address(f"ray://127.0.0.1:{listening}")
    check_ray_address(f"localhost:{listening}")


def test_a_web_server_is_not_a_ray_head():
    with _serving(_QuietWeb) as port:
        started = time.monotonic()
        for address in (f"127.0.0.1:{port}", f"ray://127.0.0.1:{port}"):
            with pytest.raises(UserInputError, match=rf":{port} answered, but not as Ray's gRPC server "
                                                     r"\(it began b'<!DOCTYPE'\).*the dashboard's 8265 is not it"):
                check_ray_address(address)
        assert time.monotonic() - started < 4


def test_a_loopback_only_server_is_not_what_ray_dials():
    with _serving(_GrpcLike, host="127.0.0.1") as port:
        check_ray_address(f"ray://127.0.0.1:{port}")  # Ray Client dials the host as given
        with pytest.raises(UserInputError, match=rf"nothing answered at .*:{port} \(Ray dials this machine's "
                                                 r"address .* for 127.0.0.1\)"):
            check_ray_address(f"127.0.0.1:{port}")


def test_nothing_listening_fails_fast():
    port = closed_port()
    started = time.monotonic()
    with pytest.raises(UserInputError, match=rf"--address.*:{port}.*ray start --head"):
        check_ray_address(f"127.0.0.1:{port}")
    assert time.monotonic() - started < 4


def test_a_hanging_name_lookup_is_bounded_by_the_timeout(monkeypatch):
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: time.sleep(30))
    started = time.monotonic()
    with pytest.raises(UserInputError, match="name lookup of 'slow.example' must answer within"):
        check_ray_address("slow.example:6379", timeout=0.5)
    assert time.monotonic() - started < 3


def test_a_silent_host_is_bounded_by_the_timeout(monkeypatch):
    def silent(self, address):
        time.sleep(self.gettimeout())
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket.socket, "connect", silent)
    started = time.monotonic()
    with pytest.raises(UserInputError, match="nothing answered at 10.0.0.5:6379 within 0.5 s"):
        check_ray_address("10.0.0.5:6379", timeout=0.5)
    assert time.monotonic() - started < 3


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.1:99999", "127.0.0.1:abc", ":6379", "ray://:10001"])
def test_malformed_address(address):
    with pytest.raises(UserInputError, match="'auto', 'host:port' or 'ray://host:port'"):
        check_ray_address(address)


def test_unknown_host():
    started = time.monotonic()
    with pytest.raises(UserInputError, match="--address|name lookup"):
        check_ray_address("no-such-host.invalid:6379", timeout=2)
    assert time.monotonic() - started < 5
