"""Serves ECS-style container credentials for tests: GET any path returns the
JSON document when the Authorization header matches; 401 otherwise.

  python3 container_credentials.py TOKEN KEY_ID SECRET    prints "port N"
"""
import json, sys, time
from http.server import BaseHTTPRequestHandler, HTTPServer

TOKEN, KEY_ID, SECRET = sys.argv[1:4]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.headers.get("Authorization") != TOKEN:
            body, status = b'{"message":"unauthorized"}', 401
        else:
            expiry = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
            body, status = json.dumps({"AccessKeyId": KEY_ID, "SecretAccessKey": SECRET, "Token": "",
                                       "Expiration": expiry}).encode(), 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = HTTPServer(("127.0.0.1", 0), Handler)
print(f"port {server.server_address[1]}", flush=True)
server.serve_forever()
