"""A fault-injecting HTTP proxy for tests: forwards to an upstream (moto)
and, on command, answers requests with throttling, 5xx, auth errors, a
connection reset, a delay or no answer at all; can pretend its clock is
skewed and can refuse connections. Standard library only.

  python3 scripts/faultproxy.py UPSTREAM_URL [PORT]
      prints "port N" (the proxy) then "control M" (control only), flushed

Control, on both ports (never forwarded; the control port answers nothing else):
  POST /__fault__        {"mode": M, "count": N, "status": 503, "seconds": 2.5,
                          "sticky": false, "target": "DescribeSecret"}
      Queues the fault for the next N (default 1) matching requests, or with
      "sticky": true keeps it for every matching request until "pass" (a new
      sticky fault replaces the sticky one with the same target). Queued
      faults are used before the sticky ones. "target": the fault applies only
      to requests whose X-Amz-Target ends with it or whose form Action equals
      it; other requests pass untouched and do not use the fault up.
      Modes (JSON bodies when the request has X-Amz-Target, else XML
      <ErrorResponse><Error><Code>..</Code><Message>..</Message></Error>..):
        throttle  400 ThrottlingException / Throttling
        error     "status" (503) ServiceUnavailable
        deny      400 AccessDeniedException / AccessDenied
        expired   400 ExpiredTokenException / ExpiredToken
        notfound  400 ResourceNotFoundException (both forms)
        invalid   400 InvalidParameterValueException (XML: InvalidParameterValue)
        reset     closes the connection with a TCP RST, no answer
        delay     waits "seconds" (5), then goes on (skew check, forward)
        hang      reads the request and never answers; on "pass" the
                  connection is closed without an answer
        pass      clears every queued and sticky fault, releases hung requests
  GET  /__fault__        state: queued, sticky, skew, refused, hanging
  GET  /__fault__/log    JSON list of the requests seen: method, path, target
                         (X-Amz-Target), action (form Action, gzip bodies
                         decompressed), fault applied, gzip, bytes, time
  POST /__fault__/clear  forgets the log
  POST /__fault__/skew   {"seconds": 600, "status": 400}: the proxy's clock is
      now+seconds (0 clears). Every answer carries a Date header of that
      clock; a request whose X-Amz-Date (header or query) is more than 300 s
      away from it is answered "status" (400) with InvalidSignatureException
      (JSON) or SignatureDoesNotMatch (XML), message "Signature expired: ..."
      (or "Signature not yet current: ..." for a request from the future).
  POST /__fault__/refuse {"on": true}: closes the proxy's listening socket (new
      connections get ECONNREFUSED; open ones keep going); {"on": false}
      listens again on the same port.
"""
import calendar, email.utils, gzip, http.client, json, select, socket, struct, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

UPSTREAM = urllib.parse.urlsplit(sys.argv[1])
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 0
MODES = ("throttle", "error", "deny", "expired", "notfound", "invalid", "reset", "delay", "hang", "pass")
SKEW_LIMIT = 300  # seconds, as AWS SigV4
lock = threading.Lock()
faults = []  # queued fault dicts, one per request
sticky = []  # standing fault dicts, at most one per target
log = []
skew = {"seconds": 0.0, "status": 400}
released = threading.Event()  # set (and replaced) by "pass": hung requests end
hanging = 0
refused = False
proxy_server = None


def amz_time(seconds):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(seconds))


def matches(fault, target, action):
    wanted = fault.get("target")
    return not wanted or (bool(target) and target.endswith(wanted)) or action == wanted


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # server_close must not wait for hung requests


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    control_only = False

    def log_message(self, *args):
        pass

    def date_time_string(self, timestamp=None):  # the Date header of every answer
        return email.utils.formatdate(time.time() + skew["seconds"], usegmt=True)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def reply(self, status, body, content_type="application/json"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message, xml_code=None):
        """An AWS error: JSON for the JSON protocol (X-Amz-Target), else XML."""
        if self.headers.get("X-Amz-Target"):
            return self.reply(status, json.dumps({"__type": code, "message": message}).encode())
        xml = (f"<ErrorResponse><Error><Code>{xml_code or code}</Code><Message>{message}</Message></Error>"
               f"<RequestId>fault</RequestId></ErrorResponse>")
        return self.reply(status, xml.encode(), "text/xml")

    def control(self, body):
        global faults, sticky, log, released, refused
        try:
            spec = json.loads(body or b"{}") if self.command == "POST" else {}
            if not isinstance(spec, dict):
                raise ValueError("a JSON object expected")
        except ValueError as error:
            return self.reply(400, json.dumps({"error": str(error)}).encode())
        with lock:
            if self.path == "/__fault__/log":
                return self.reply(200, json.dumps(log).encode())
            if self.path == "/__fault__/clear":
                log = []
                return self.reply(200, b"{}")
            if self.path == "/__fault__/skew":
                skew["seconds"] = float(spec.get("seconds", 0))
                skew["status"] = int(spec.get("status", 400))
                return self.reply(200, b"{}")
            if self.path == "/__fault__" and self.command == "GET":
                state = {"queued": faults, "sticky": sticky, "skew": skew["seconds"], "refused": refused,
                         "hanging": hanging}
                return self.reply(200, json.dumps(state).encode())
            if self.path == "/__fault__":
                mode = spec.get("mode", "pass")
                if mode not in MODES:
                    return self.reply(400, json.dumps({"error": f"unknown mode {mode}"}).encode())
                if mode == "pass":
                    faults, sticky = [], []
                    released.set()
                    released = threading.Event()
                elif spec.get("sticky"):
                    sticky = [f for f in sticky if f.get("target") != spec.get("target")] + [spec]
                else:
                    faults.extend([spec] * int(spec.get("count", 1)))
                return self.reply(200, b"{}")
        if self.path == "/__fault__/refuse":
            try:
                set_refused(bool(spec.get("on", True)))
            except OSError as error:
                return self.reply(500, json.dumps({"error": str(error)}).encode())
            return self.reply(200, b"{}")
        self.reply(404, json.dumps({"error": f"unknown control path {self.path}"}).encode())

    def handle_any(self):
        body = self.body()
        if self.path.startswith("/__fault__"):
            return self.control(body)
        if self.control_only:
            return self.reply(404, json.dumps({"error": "control port: /__fault__ only"}).encode())
        action = ""
        compressed = self.headers.get("Content-Encoding", "") == "gzip"
        try:
            form = gzip.decompress(body) if compressed else body
        except (OSError, EOFError):
            form = b""
        if b"Action=" in form:
            action = urllib.parse.parse_qs(form.decode(errors="replace")).get("Action", [""])[0]
        target = self.headers.get("X-Amz-Target", "")
        # Which secret a Secrets Manager call is about (an id, never a value): per-secret call counts.
        try:
            secret_id = json.loads(form).get("SecretId", "") if target.startswith("secretsmanager.") else ""
        except (ValueError, AttributeError):
            secret_id = ""
        with lock:
            fault = None
            for i, queued in enumerate(faults):
                if matches(queued, target, action):
                    fault = faults.pop(i)
                    break
            else:
                fault = next((f for f in reversed(sticky) if matches(f, target, action)), None)
            rejection = None if fault and fault["mode"] != "delay" else self.skew_rejection()
            entry = {"method": self.command, "path": self.path, "target": target, "action": action,
                     "fault": fault["mode"] if fault else "", "gzip": compressed, "bytes": len(body),
                     "secret_id": secret_id if isinstance(secret_id, str) else "", "time": time.time()}
            if rejection and not fault:
                entry["fault"] = "skew"
            log.append(entry)
            release = released
        if fault:
            mode = fault["mode"]
            if mode == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                return
            if mode == "hang":
                return self.hang(release)
            if mode == "delay":
                time.sleep(float(fault.get("seconds", 5)))
                rejection = self.skew_rejection()
            elif mode in ("throttle", "error", "deny"):
                status = int(fault.get("status", 503)) if mode == "error" else 400
                code = {"throttle": "ThrottlingException", "error": "ServiceUnavailable",
                        "deny": "AccessDeniedException"}[mode]
                xml_code = {"throttle": "Throttling", "deny": "AccessDenied"}.get(mode, code)
                return self.error(status, code, "injected fault", xml_code)
            elif mode == "expired":
                return self.error(400, "ExpiredTokenException", "The security token included in the request is expired",
                                  "ExpiredToken")
            elif mode == "notfound":
                return self.error(400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret.")
            elif mode == "invalid":
                return self.error(400, "InvalidParameterValueException", "The value for parameter MetricData is invalid.",
                                  "InvalidParameterValue")
        if rejection:
            return self.error(skew["status"], "InvalidSignatureException", rejection, "SignatureDoesNotMatch")
        self.forward(body)

    def skew_rejection(self):
        """The message AWS gives when X-Amz-Date is too far from the (skewed) clock, or None."""
        if not skew["seconds"]:
            return None
        stamp = self.headers.get("X-Amz-Date") or \
            urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query).get("X-Amz-Date", [""])[0]
        try:
            signed = calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            return None  # unsigned (web identity, IMDS): nothing to check
        now = int(time.time() + skew["seconds"])
        if signed < now - SKEW_LIMIT:
            return (f"Signature expired: {stamp} is now earlier than {amz_time(now - SKEW_LIMIT)} "
                    f"({amz_time(now)} - {SKEW_LIMIT // 60} min.)")
        if signed > now + SKEW_LIMIT:
            return (f"Signature not yet current: {stamp} is still later than {amz_time(now + SKEW_LIMIT)} "
                    f"({amz_time(now)} + {SKEW_LIMIT // 60} min.)")
        return None

    def hang(self, release):
        """Holds the connection without answering until "pass" (then closes
        it) or until the client gives up (its side closed)."""
        global hanging
        with lock:
            hanging += 1
        try:
            while not release.wait(0.2):
                readable, _, _ = select.select([self.connection], [], [], 0)
                if readable:
                    try:
                        if not self.connection.recv(65536, socket.MSG_PEEK):
                            break  # the client closed its side
                        self.connection.recv(65536)  # pipelined bytes: read and ignore
                    except OSError:
                        break
        finally:
            with lock:
                hanging -= 1
            self.close_connection = True

    def forward(self, body):
        try:
            upstream = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=30)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "keep-alive")}
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            upstream.close()
        except OSError as error:
            return self.reply(502, json.dumps({"__type": "BadGateway", "message": str(error)}).encode())
        self.send_response(response.status)  # adds Server and Date (the proxy's clock)
        for key, value in response.getheaders():
            if key.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = handle_any


class Control(Proxy):
    control_only = True


def serve(server):
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()


def set_refused(on):
    """Closes the proxy's listening socket, or listens again on its port."""
    global proxy_server, refused
    with refuse_lock:
        if on and proxy_server:
            proxy_server.shutdown()
            proxy_server.server_close()
            proxy_server = None
        elif not on and not proxy_server:
            proxy_server = Server(("127.0.0.1", port), Proxy)  # allow_reuse_address: SO_REUSEADDR
            serve(proxy_server)
        refused = proxy_server is None


refuse_lock = threading.Lock()
proxy_server = Server(("127.0.0.1", PORT), Proxy)
port = proxy_server.server_address[1]
control_server = Server(("127.0.0.1", 0), Control)
serve(proxy_server)
print(f"port {port}", flush=True)
print(f"control {control_server.server_address[1]}", flush=True)
try:
    control_server.serve_forever(poll_interval=0.1)
except KeyboardInterrupt:
    pass
