"""A stand-in for a foreign process holding a loopback port (an old gateway build left
running, a metrics exporter): `listener.py NAME PORTFILE [PORT]` answers every request
with a banner naming itself and writes the port it got to PORTFILE."""

import sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

from episode import write_atomic


def main() -> None:
    name, portfile = sys.argv[1], Path(sys.argv[2])
    port = int(sys.argv[3]) if len(sys.argv) > 3 else 0

    class Banner(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            body = f"{name}\n".encode()
            self.send_response(410)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = HTTPServer(("127.0.0.1", port), Banner)
    write_atomic(portfile, str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
