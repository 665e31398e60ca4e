"""The fetcher's HTTP/1.1 client against raw sockets on loopback: keep-alive, odd answers, TLS."""
from __future__ import annotations

import asyncio
import datetime
import http.server
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from outreach.lib.http import Fetcher, FetchResult
from tests.lib.conftest import make_settings
from tests.lib.testweb import TestWeb, send

Script = Callable[[socket.socket], None]


class RawServer:
    """Accepts connections on loopback and runs a script on each; counts the connections."""

    def __init__(self, script: Script, host: str = "127.0.0.11") -> None:
        self.script = script
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(16)
        self.url = f"http://{host}:{self.sock.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.script(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


def read_request(conn: socket.socket) -> bytes:
    """One request's head (the client sends no bodies); b"" when the client hung up."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return b""
        data += chunk
    return data


@pytest.fixture
def raw() -> Iterator[Callable[[Script], RawServer]]:
    servers: list[RawServer] = []

    def start(script: Script) -> RawServer:
        servers.append(RawServer(script))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def fetch_all(requests: list[tuple[str, str]], fetcher_factory: Callable[[], Fetcher] | None = None,
              **fetch_kwargs: object) -> list[FetchResult]:
    """(method, url) fetched one after another through one Fetcher (so connections can be kept)."""
    async def run() -> list[FetchResult]:
        async with (fetcher_factory() if fetcher_factory else Fetcher(make_settings())) as fetcher:
            return [await fetcher.fetch(url, method=method, **fetch_kwargs)  # type: ignore[arg-type]
                    for method, url in requests]
    return asyncio.run(run())


def test_it_keeps_the_connection_for_the_next_request(web: TestWeb) -> None:
    ports: list[int] = []

    @web.handler("/k")
    def keep(req):  # type: ignore[no-untyped-def]
        ports.append(req.client_address[1])
        send(req, 200, "kept")

    got = fetch_all([("GET", web.url("/k")), ("HEAD", web.url("/k")), ("GET", web.url("/k"))])
    assert [(r.status, r.body) for r in got] == [(200, b"kept"), (200, b""), (200, b"kept")]
    assert len(set(ports)) == 1


def test_a_head_answer_with_a_content_length_leaves_the_connection_usable(raw) -> None:  # type: ignore[no-untyped-def]
    def script(conn: socket.socket) -> None:
        while request := read_request(conn):
            if request.startswith(b"HEAD"):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n")
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")

    server = raw(script)
    got = fetch_all([("HEAD", server.url + "/a"), ("GET", server.url + "/b"), ("HEAD", server.url + "/c"),
                     ("GET", server.url + "/d")])
    assert [(r.status, r.body, r.error) for r in got] == [(200, b"", None), (200, b"hello", None)] * 2
    assert server.connections == 1


def test_a_kept_connection_the_server_closed_is_replaced_without_an_error(raw) -> None:  # type: ignore[no-untyped-def]
    def one_answer_then_close(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        read_request(conn)  # the next request arrives on the kept connection: hang up without answering

    server = raw(one_answer_then_close)
    got = fetch_all([("GET", server.url + "/1"), ("GET", server.url + "/2"), ("GET", server.url + "/3")])
    assert [(r.status, r.error) for r in got] == [(200, None)] * 3
    assert server.connections >= 2


def test_a_new_connection_closed_before_an_answer_is_a_reset(raw) -> None:  # type: ignore[no-untyped-def]
    server = raw(read_request)  # reads the request, then closes
    got = fetch_all([("GET", server.url + "/")])
    assert (got[0].status, got[0].error) == (None, "reset")


def test_it_skips_interim_answers_and_reads_bare_line_feeds(raw) -> None:  # type: ignore[no-untyped-def]
    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                     b"HTTP/1.1 200 OK\nContent-Type: text/html\nX-Final: yes\nContent-Length: 4\n\nbody")

    got = fetch_all([("GET", raw(script).url + "/")])[0]
    assert (got.status, got.body, got.headers.get("x-final"), "link" in got.headers) == (200, b"body", "yes", False)


def test_chunked_and_read_until_close_bodies(raw) -> None:  # type: ignore[no-untyped-def]
    def chunked(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")

    def until_close(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n" + b"x" * 100_000)

    got = fetch_all([("GET", raw(chunked).url + "/"), ("GET", raw(until_close).url + "/")])
    assert got[0].body == b"hello world"
    assert (got[1].status, len(got[1].body), got[1].error) == (200, 100_000, None)


def test_a_content_length_beside_chunked_framing_is_read_as_chunks(raw) -> None:  # type: ignore[no-untyped-def]
    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                     b"5\r\nhello\r\n0\r\n\r\n")

    got = fetch_all([("GET", raw(script).url + "/")])[0]
    assert (got.status, got.body, got.error) == (200, b"hello", None)


def test_endless_headers_end_the_request(raw) -> None:  # type: ignore[no-untyped-def]
    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\n")
        for i in range(100_000):
            conn.sendall(b"X-Filler-%d: %s\r\n" % (i, b"a" * 100))

    got = fetch_all([("GET", raw(script).url + "/")])[0]
    assert (got.status, got.error) == (None, "reset")
    assert got.elapsed < 2.0  # refused at 64 KiB, long before the 2 s deadline


def test_bytes_after_an_answer_keep_the_connection_from_being_used_again(raw) -> None:  # type: ignore[no-untyped-def]
    def script(conn: socket.socket) -> None:
        while read_request(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
                         b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale")

    server = raw(script)
    got = fetch_all([("GET", server.url + "/1"), ("GET", server.url + "/2")])
    assert [(r.status, r.body) for r in got] == [(200, b"ok"), (200, b"ok")]
    assert server.connections == 2


def test_a_redirect_with_a_huge_body_is_followed_without_reading_it(raw, web: TestWeb) -> None:  # type: ignore[no-untyped-def]
    web.page("/end", "arrived")

    def script(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {web.url('/end')}\r\nContent-Length: 100000000\r\n\r\n".encode())
        while True:
            conn.sendall(b"z" * 65536)

    got = fetch_all([("GET", raw(script).url + "/")])[0]
    assert (got.status, got.body, got.final_url) == (200, b"arrived", web.url("/end"))


def test_a_line_break_in_a_request_header_is_refused(web: TestWeb) -> None:
    web.page("/", "ok")
    with pytest.raises(ValueError, match="line break"):
        fetch_all([("GET", web.url("/"))], headers={"X-Token": "a\r\nX-Injected: 1"})
    assert web.hits["/"] == 0


def test_spaces_and_non_ascii_in_a_path_are_percent_encoded(web: TestWeb) -> None:
    web.page("/a%20b/%C3%BC", "encoded")
    got = fetch_all([("GET", web.url("/a b/ü"))])[0]
    assert (got.status, got.body) == (200, b"encoded")


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_checks_the_certificate(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)

    class Hello(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            send(self, 200, "secure")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    server.daemon_threads = True
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"https://localhost:{server.server_address[1]}/"
    try:
        untrusted = fetch_all([("GET", url)])[0]
        trusting = ssl.create_default_context(cafile=str(cert))
        trusted = fetch_all([("GET", url)], lambda: Fetcher(make_settings(), tls=trusting))[0]
    finally:
        server.shutdown()
        server.server_close()
    assert (untrusted.status, untrusted.error) == (None, "tls")
    assert (trusted.status, trusted.body) == (200, b"secure")


def test_the_longest_idle_connection_is_closed_when_too_many_are_kept(raw, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import outreach.lib.http_client as client

    def script(conn: socket.socket) -> None:
        while read_request(conn):
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    monkeypatch.setattr(client, "MAX_IDLE_CONNECTIONS", 2)
    servers = [raw(script) for _ in range(3)]
    got = fetch_all([("GET", s.url + "/") for s in servers] + [("GET", servers[0].url + "/again"),
                                                                 ("GET", servers[2].url + "/again")])
    assert all(r.status == 200 for r in got)
    # the first server's connection was the oldest when the third was kept: it needed a new one
    assert [s.connections for s in servers] == [2, 1, 1]


def test_a_body_cut_short_of_its_length_or_last_chunk_is_a_reset(raw) -> None:  # type: ignore[no-untyped-def]
    def short(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nhello")

    def unfinished_chunks(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")

    got = fetch_all([("GET", raw(short).url + "/"), ("GET", raw(unfinished_chunks).url + "/")])
    assert [(r.status, r.error) for r in got] == [(None, "reset"), (None, "reset")]


def test_a_408_or_leftover_bytes_on_a_kept_connection_are_not_taken_as_the_answer(raw) -> None:  # type: ignore[no-untyped-def]
    def times_out_the_second(conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst")
        read_request(conn)
        conn.sendall(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")

    def late_head_body(conn: socket.socket) -> None:
        while request := read_request(conn):
            if request.startswith(b"HEAD"):
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n")
                time.sleep(0.05)  # then, against the rules, the body
                conn.sendall(b"<p>x</p>\n")
            else:
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nanswer")

    timing_out, leftover = raw(times_out_the_second), raw(late_head_body)

    async def run() -> list[FetchResult]:
        async with Fetcher(make_settings()) as fetcher:
            first = await fetcher.fetch(timing_out.url + "/1")
            second = await fetcher.fetch(timing_out.url + "/2")
            head = await fetcher.fetch(leftover.url + "/h", method="HEAD")
            await asyncio.sleep(0.01)  # the request below goes out before the leftover arrives
            after = await fetcher.fetch(leftover.url + "/g")
            return [first, second, head, after]

    got = asyncio.run(run())
    assert [(r.status, r.body) for r in got] == [(200, b"first"), (200, b"first"), (200, b""), (200, b"answer")]
    assert timing_out.connections == 2


def test_an_address_that_drops_packets_does_not_use_up_the_deadline(monkeypatch, raw) -> None:  # type: ignore[no-untyped-def]
    import outreach.lib.http_client as client

    good = raw(lambda conn: (read_request(conn), conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")))
    port = int(good.url.rsplit(":", 1)[1])
    hole = socket.socket()
    hole.bind(("127.0.0.12", port))
    hole.listen(0)
    queued = []
    for _ in range(3):  # fill the accept queue: from then on the kernel drops SYNs, as a firewall would
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.12", port))
        queued.append(sock)
    time.sleep(0.2)
    monkeypatch.setattr(client, "ADDRESS_CONNECT_SECONDS", 0.3)

    async def run() -> FetchResult:
        async with Fetcher(make_settings(timeout=5.0)) as fetcher:
            assert fetcher._pool is not None
            fetcher._pool._dns[("dual.test", port)] = (time.monotonic() + 60,
                                                       [(socket.AF_INET, "127.0.0.12"), (socket.AF_INET, "127.0.0.11")])
            return await fetcher.fetch(f"http://dual.test:{port}/")

    try:
        got = asyncio.run(run())
    finally:
        for sock in (*queued, hole):
            sock.close()
    assert (got.status, got.body, got.error) == (200, b"ok", None)
    assert got.elapsed < 3
