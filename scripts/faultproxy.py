"""A fault-injecting HTTP proxy for tests: forwards to an upstream (moto)
and, on command, answers the next requests with throttling, 5xx, a
connection reset or a delay. Standard library only.

  python3 scripts/faultproxy.py UPSTREAM_URL [PORT]    prints "port N" when ready

Control (never forwarded):
  POST /__fault__        {"mode": "throttle"|"error"|"deny"|"reset"|"delay"|"pass",
                          "count": N, "status": 503, "seconds": 2.5}
                         queues N faults for the next N requests ("pass": clear)
  GET  /__fault__/log    JSON list of the requests seen: method, path, target
                         (X-Amz-Target), action (form Action, gzip bodies
                         decompressed), fault applied, gzip, bytes
  POST /__fault__/clear  forgets the log
"""
import gzip, http.client, json, socket, struct, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = urllib.parse.urlsplit(sys.argv[1])
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 0
lock = threading.Lock()
faults = []  # queued fault dicts, one per request
log = []


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def control(self, body):
        global faults, log
        with lock:
            if self.path == "/__fault__/log":
                return self.reply(200, json.dumps(log).encode())
            if self.path == "/__fault__/clear":
                log = []
                return self.reply(200, b"{}")
            spec = json.loads(body or b"{}")
            if spec.get("mode", "pass") == "pass":
                faults = []
            else:
                faults.extend([spec] * int(spec.get("count", 1)))
        self.reply(200, b"{}")

    def handle_any(self):
        body = self.body()
        if self.path.startswith("/__fault__"):
            return self.control(body)
        action = ""
        compressed = self.headers.get("Content-Encoding", "") == "gzip"
        form = gzip.decompress(body) if compressed else body
        if b"Action=" in form:
            action = urllib.parse.parse_qs(form.decode(errors="replace")).get("Action", [""])[0]
        with lock:
            fault = faults.pop(0) if faults else None
            log.append({"method": self.command, "path": self.path, "target": self.headers.get("X-Amz-Target", ""),
                        "action": action, "fault": fault["mode"] if fault else "", "gzip": compressed,
                        "bytes": len(body), "time": time.time()})
        if fault:
            mode = fault["mode"]
            if mode == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                return
            if mode == "delay":
                time.sleep(float(fault.get("seconds", 5)))
            elif mode in ("throttle", "error", "deny"):
                status = int(fault.get("status", 503)) if mode == "error" else 400
                code = {"throttle": "ThrottlingException", "error": "ServiceUnavailable",
                        "deny": "AccessDeniedException"}[mode]
                if self.headers.get("X-Amz-Target"):
                    return self.reply(status, json.dumps({"__type": code, "message": "injected fault"}).encode())
                xml = (f"<ErrorResponse><Error><Code>{ {'throttle': 'Throttling', 'deny': 'AccessDenied'}.get(mode, code) }</Code>"
                       f"<Message>injected fault</Message></Error><RequestId>fault</RequestId></ErrorResponse>")
                return self.reply(status, xml.encode(), "text/xml")
        self.forward(body)

    def forward(self, body):
        try:
            upstream = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
        except OSError as error:
            return self.reply(502, json.dumps({"__type": "BadGateway", "message": str(error)}).encode())
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any


server = ThreadingHTTPServer(("127.0.0.1", PORT), Proxy)
server.daemon_threads = True
print(f"port {server.server_address[1]}", flush=True)
server.serve_forever()
