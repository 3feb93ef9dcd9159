"""An HTTP API that wants `Authorization: Bearer <token>`: 200 with the
token, 401 without or with another one; `/status/NNN` answers NNN, `/big`
200 with a 1 MB body. For the HTTP probe's tests.

  python3 Tests/Fixtures/token_server.py
      prints "port N" (the API) and "control M"; POST /token on the control
      port with the new token as the body rotates it; GET /stats there gives
      {"ok": n, "unauthorized": n} as JSON.
"""
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

state = {"token": None, "ok": 0, "unauthorized": 0}
lock = threading.Lock()


class API(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/status/"):
            self.send_response(int(self.path[len("/status/"):]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(1 << 20))
            self.end_headers()
            if self.command == "GET":
                self.wfile.write(b"x" * (1 << 20))
            return
        with lock:
            good = state["token"] is not None and self.headers.get("Authorization") == f"Bearer {state['token']}"
            state["ok" if good else "unauthorized"] += 1
        self.send_response(200 if good else 401)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_HEAD = do_GET

    def log_message(self, *args):
        pass


class Control(BaseHTTPRequestHandler):
    def do_POST(self):
        token = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
        with lock:
            state["token"] = token
        self.send_response(204)
        self.end_headers()

    def do_GET(self):
        with lock:
            body = json.dumps({"ok": state["ok"], "unauthorized": state["unauthorized"]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


api = ThreadingHTTPServer(("127.0.0.1", 0), API)
control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
threading.Thread(target=control.serve_forever, daemon=True).start()
print(f"port {api.server_address[1]}\ncontrol {control.server_address[1]}", flush=True)
api.serve_forever()
