"""Webhook receiver for the alerting tests: one JSON line per POST,
{"path", "time", "body"}, appended to the file given; prints "port N" once
listening on 127.0.0.1.

  python3 scripts/webhook-receiver.py FILE
"""
import json, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
out, lock = open(sys.argv[1], "a"), threading.Lock()
class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            payload = json.loads(body)
        except ValueError:
            payload = {"unparsed": body.decode(errors="replace")}
        with lock:
            out.write(json.dumps({"path": self.path, "time": time.time(), "body": payload}) + "\n")
            out.flush()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"port {server.server_address[1]}", flush=True)
server.serve_forever()
