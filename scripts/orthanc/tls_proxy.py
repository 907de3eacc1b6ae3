#!/usr/bin/env python3
"""An HTTPS front for Orthanc's HTTP port, for the TLS checks of scripts/pacs_e2e.sh (Orthanc's own HTTPS,
civetweb on Debian 12's OpenSSL 3, crashes on the first handshake). Standard library only.

Usage (inside Orthanc's network namespace): tls_proxy.py CERT_AND_KEY.pem LISTEN_PORT ORTHANC_HTTP_PORT
Relays every request (method, path, body, the headers that matter) to http://127.0.0.1:ORTHANC_HTTP_PORT and
the answer back; one thread per connection.
"""
import http.client
import http.server
import socketserver
import ssl
import sys

PEM, PORT, BACKEND = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
FORWARDED = ("authorization", "accept", "content-type")


class Relay(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def relay(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() in FORWARDED}
        backend = http.client.HTTPConnection("127.0.0.1", BACKEND, timeout=60)
        backend.request(self.command, self.path, body=body, headers=headers)
        answer = backend.getresponse()
        data = answer.read()
        self.send_response(answer.status, answer.reason)
        for k, v in answer.getheaders():
            if k.lower() in ("content-type", "www-authenticate"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        backend.close()

    do_GET = do_POST = do_PUT = do_DELETE = relay

    def log_message(self, *args):
        pass


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(PEM)
server = Server(("127.0.0.1", PORT), Relay)
server.socket = context.wrap_socket(server.socket, server_side=True)
server.serve_forever()
