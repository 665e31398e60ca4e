"""A small authoritative DNS server on loopback UDP, answering from a dict of records."""
from __future__ import annotations

import socket
import threading

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset


class DNSServer:
    """Answers `records[(name, type)] = [rdata text, ...]`; names it has no record of are NXDOMAIN.

    A name listed under any type exists, so a query for another type gets an empty NOERROR answer
    (the "no MX" case). Names in `silent` are never answered (the timeout case).
    """

    def __init__(self, records: dict[tuple[str, str], list[str]], silent: tuple[str, ...] = ()) -> None:
        self.records = {(n.lower().rstrip(".") + ".", t.upper()): v for (n, t), v in records.items()}
        self.names = {n for n, _ in self.records}
        self.silent = {s.lower().rstrip(".") + "." for s in silent}
        self.queries: list[tuple[str, str]] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> DNSServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                query = dns.message.from_wire(data)
            except Exception:  # garbage on the socket: ignore it, as a server would
                continue
            question = query.question[0]
            name = question.name.to_text().lower()
            rdtype = dns.rdatatype.to_text(question.rdtype)
            self.queries.append((name, rdtype))
            if name in self.silent:
                continue
            response = dns.message.make_response(query)
            response.flags |= dns.flags.AA
            if name not in self.names:
                response.set_rcode(dns.rcode.NXDOMAIN)
            else:
                values = self.records.get((name, rdtype), [])
                if values:
                    response.answer.append(dns.rrset.from_text_list(name, 300, "IN", rdtype, values))
            try:
                self.sock.sendto(response.to_wire(), peer)
            except OSError:
                return
