"""A fault-injecting TCP proxy for tests, in front of PostgreSQL or Redis
(plain or TLS: the bytes are opaque). Standard library only; one thread
runs every connection (selectors, non-blocking sockets, at most 256 KB
buffered each way per connection), another the control server.

  python3 scripts/tcpfault.py UPSTREAM_HOST:PORT [PORT]
      listens on 127.0.0.1:PORT (default: a free port), prints "port N" then
      "control M" (flushed); M serves the HTTP control below.

Control (answers when the change is in effect; every answer is the stats):
  POST /mode  {"mode": M, "seconds": S, "after": N}
    pass      forward both ways (the default)
    hang      a blackhole: new connections are accepted and get no answer;
              nothing is delivered either way on any connection (bytes are
              buffered, then left unread). Back to pass: the buffered bytes
              flow and held new connections reach the upstream. A client
              closing its side during hang closes that connection.
    refuse    closes the listening socket (new connections: ECONNREFUSED);
              open connections keep forwarding. Any other mode listens again
              on the same port.
    reset     new connections are reset (RST) as soon as accepted; every open
              connection is reset now.
    slow      every chunk from upstream to client is delivered S seconds
              (default 1) after it arrived.
    endless   new connections: after the client's first bytes, an endless
              RESP-looking answer "*1024\\r\\n" then 64 KB bulk strings
              ("$65536\\r\\nxxx...\\r\\n") forever, as fast as the client reads, until it closes. Open
              connections keep forwarding.
    tlsreset  as pass, but each new connection is reset (RST to the client)
              once N (default 3) chunks from upstream have been delivered.
  POST /kill  resets every open connection (RST to the client, the upstream
              closed), keeps listening: {"killed": n} plus the stats
  GET  /stats {"mode", "open" (client connections), "accepted" (total),
              "listening", "port", "seconds", "after"}
"""
import collections, errno, json, queue, selectors, socket, struct, sys, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

host, _, upstream_port = sys.argv[1].rpartition(":")
UPSTREAM = socket.getaddrinfo(host or "127.0.0.1", int(upstream_port), type=socket.SOCK_STREAM)[0]
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 0
MODES = ("pass", "hang", "refuse", "reset", "slow", "endless", "tlsreset")
BUFFER = 256 * 1024  # per direction and connection
CHUNK = 64 * 1024
# Every part within a RESP reader's per-value limits (1024 elements, 64 KB
# values): only a bound on the whole reply, or the deadline, stops a client.
ENDLESS_HEADER = b"*1024\r\n"
ENDLESS_UNIT = b"$65536\r\n" + b"x" * 65536 + b"\r\n"
ENDLESS_BLOCK = memoryview(ENDLESS_UNIT * max(1, CHUNK // len(ENDLESS_UNIT)))
WOULD_BLOCK = (BlockingIOError, InterruptedError)

state = {"mode": "pass", "seconds": 1.0, "after": 3, "accepted": 0}
selector = selectors.DefaultSelector()
connections = set()
commands = queue.Queue()
listener = None
port = PORT


def rst(sock):
    """Closes with SO_LINGER 0: the peer gets a TCP RST."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class Connection:
    def __init__(self, client, endless=False):
        self.client, self.upstream = client, None
        self.endless = endless
        self.connecting = False
        self.to_upstream = bytearray()
        self.to_client = collections.deque()  # [deliver_at, memoryview] chunks from upstream
        self.to_client_bytes = 0
        self.client_eof = self.upstream_eof = self.upstream_shut = self.client_shut = False
        self.reset_after = state["after"] if state["mode"] == "tlsreset" else 0
        self.delivered = 0  # upstream chunks fully written to the client
        self.endless_started, self.endless_offset = False, 0
        self.endless_prefix = memoryview(ENDLESS_HEADER)
        self.events = {}  # socket -> events registered
        self.closed = False
        connections.add(self)

    def connect(self):
        self.upstream = socket.socket(UPSTREAM[0], UPSTREAM[1])
        self.upstream.setblocking(False)
        self.connecting = True
        code = self.upstream.connect_ex(UPSTREAM[4])
        if code not in (0, errno.EINPROGRESS):
            self.close()

    def close(self, reset=False):
        if self.closed:
            return
        self.closed = True
        connections.discard(self)
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            if sock in self.events:
                selector.unregister(sock)
            rst(sock) if reset else sock.close()
        self.events.clear()

    # What each socket waits for, given the buffers and the mode.
    def wanted(self, now):
        hang = state["mode"] == "hang"
        client = 0
        if not self.client_eof and len(self.to_upstream) < BUFFER:
            client |= selectors.EVENT_READ
        if self.endless:
            if self.endless_started:
                client |= selectors.EVENT_WRITE
            return client, 0
        if not hang and self.to_client and self.to_client[0][0] <= now:
            client |= selectors.EVENT_WRITE
        upstream = 0
        if self.upstream is not None:
            if self.connecting:
                upstream = selectors.EVENT_WRITE
            else:
                if not self.upstream_eof and self.to_client_bytes < BUFFER:
                    upstream |= selectors.EVENT_READ
                if not hang and self.to_upstream:
                    upstream |= selectors.EVENT_WRITE
        return client, upstream

    def update(self, now):
        """Starts the upstream connection, passes on end-of-stream, registers
        the events wanted; returns when the next delayed chunk is due."""
        hang = state["mode"] == "hang"
        if not self.endless and self.upstream is None and not hang:
            self.connect()
        if self.closed:
            return None
        if not hang and not self.endless and self.upstream is not None and not self.connecting:
            if self.client_eof and not self.to_upstream and not self.upstream_shut:
                self.upstream_shut = True
                shutdown(self.upstream)
            if self.upstream_eof and not self.to_client and not self.client_shut:
                self.client_shut = True
                shutdown(self.client)
            if self.client_eof and self.upstream_eof and not self.to_upstream and not self.to_client:
                return self.close()
        for sock, events in zip((self.client, self.upstream), self.wanted(now)):
            if sock is None or self.events.get(sock, 0) == events:
                continue
            if events == 0:
                selector.unregister(sock)
                del self.events[sock]
            elif sock in self.events:
                selector.modify(sock, events, self)
                self.events[sock] = events
            else:
                selector.register(sock, events, self)
                self.events[sock] = events
        if self.to_client and not hang and self.to_client[0][0] > now:
            return self.to_client[0][0]
        return None

    def ready(self, sock, events, now):
        try:
            if sock is self.client:
                if events & selectors.EVENT_READ:
                    self.read_client()
                if not self.closed and events & selectors.EVENT_WRITE:
                    self.write_endless() if self.endless else self.write_client(now)
            else:
                if self.connecting:
                    code = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if code:
                        return self.close()
                    self.connecting = False
                    return
                if events & selectors.EVENT_READ:
                    self.read_upstream(now)
                if not self.closed and events & selectors.EVENT_WRITE:
                    sent = sock.send(self.to_upstream)
                    del self.to_upstream[:sent]
        except WOULD_BLOCK:
            pass
        except OSError:
            self.close(reset=True)

    def read_client(self):
        data = self.client.recv(CHUNK)
        if not data:
            self.client_eof = True
            if self.endless or state["mode"] == "hang" or self.upstream is None:
                self.close()
            return
        if self.endless:
            self.endless_started = True  # the client's bytes are dropped
        else:
            self.to_upstream += data

    def read_upstream(self, now):
        data = self.upstream.recv(CHUNK)
        if not data:
            self.upstream_eof = True
            return
        delay = state["seconds"] if state["mode"] == "slow" else 0
        self.to_client.append([now + delay, memoryview(data)])
        self.to_client_bytes += len(data)

    def write_client(self, now):
        while self.to_client and self.to_client[0][0] <= now:
            chunk = self.to_client[0]
            sent = self.client.send(chunk[1])
            self.to_client_bytes -= sent
            if sent < len(chunk[1]):
                chunk[1] = chunk[1][sent:]
                return
            self.to_client.popleft()
            self.delivered += 1
            if self.reset_after and self.delivered >= self.reset_after:
                return self.close(reset=True)

    def write_endless(self):
        if self.endless_prefix:
            sent = self.client.send(self.endless_prefix)
            self.endless_prefix = self.endless_prefix[sent:]
            return
        sent = self.client.send(ENDLESS_BLOCK[self.endless_offset:])
        self.endless_offset = (self.endless_offset + sent) % len(ENDLESS_UNIT)


def shutdown(sock):
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def listen():
    global listener, port
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("127.0.0.1", port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    listener, port = sock, sock.getsockname()[1]
    selector.register(listener, selectors.EVENT_READ, "listener")


def accept():
    for _ in range(64):
        try:
            client, _ = listener.accept()
        except WOULD_BLOCK:
            return
        except OSError:
            return
        state["accepted"] += 1
        mode = state["mode"]
        if mode == "reset":
            rst(client)
            continue
        client.setblocking(False)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = Connection(client, endless=mode == "endless")
        if mode != "endless" and mode != "hang":
            connection.connect()


def stats():
    return {"mode": state["mode"], "open": len(connections), "accepted": state["accepted"],
            "listening": listener is not None, "port": port, "seconds": state["seconds"], "after": state["after"]}


def kill_all():
    killed = len(connections)
    for connection in list(connections):
        connection.close(reset=True)
    return killed


def set_mode(spec):
    global listener
    mode = spec.get("mode", "pass")
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode}")
    if mode == "refuse" and listener is not None:
        selector.unregister(listener)
        listener.close()
        listener = None
    elif mode != "refuse" and listener is None:
        listen()
    state["mode"] = mode
    if "seconds" in spec:
        state["seconds"] = float(spec["seconds"])
    if "after" in spec:
        state["after"] = int(spec["after"])
    elif mode == "tlsreset":
        state["after"] = 3
    if mode == "reset":
        kill_all()


def run_commands():
    while True:
        try:
            action, result, done = commands.get_nowait()
        except queue.Empty:
            return
        try:
            result["value"] = action()
        except (ValueError, TypeError, OSError) as error:
            result["error"] = str(error)
        done.set()


def loop(wake_reader):
    selector.register(wake_reader, selectors.EVENT_READ, "wake")
    while True:
        now = time.monotonic()
        due = [at for at in (c.update(now) for c in list(connections)) if at is not None]
        timeout = max(0.0, min(due) - time.monotonic()) if due else None
        for key, events in selector.select(timeout):
            now = time.monotonic()
            if key.data == "wake":
                try:
                    wake_reader.recv(4096)
                except WOULD_BLOCK:
                    pass
                run_commands()
            elif key.data == "listener":
                if listener is not None:
                    accept()
            elif not key.data.closed and key.fileobj in key.data.events:
                key.data.ready(key.fileobj, events, now)


class Control(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, value):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def in_loop(self, action):
        """Runs action on the proxy's thread; returns once it took effect."""
        result, done = {}, threading.Event()
        commands.put((action, result, done))
        wake_writer.send(b"x")
        done.wait()
        if "error" in result:
            return self.reply(400, {"error": result["error"]})
        self.reply(200, result["value"])

    def do_GET(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path in ("/stats", "/mode"):
            return self.in_loop(stats)
        self.reply(404, {"error": "GET /stats, POST /mode, POST /kill"})

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/kill":
            return self.in_loop(lambda: {"killed": kill_all(), **stats()})
        if self.path == "/mode":
            try:
                spec = json.loads(body or b"{}")
                if not isinstance(spec, dict):
                    raise ValueError("a JSON object expected")
            except ValueError as error:
                return self.reply(400, {"error": str(error)})
            return self.in_loop(lambda: (set_mode(spec), stats())[1])
        self.reply(404, {"error": "GET /stats, POST /mode, POST /kill"})


wake_reader, wake_writer = socket.socketpair()
wake_reader.setblocking(False)
listen()
control = ThreadingHTTPServer(("127.0.0.1", 0), Control)
control.daemon_threads = True
threading.Thread(target=control.serve_forever, daemon=True).start()
print(f"port {port}", flush=True)
print(f"control {control.server_address[1]}", flush=True)
try:
    loop(wake_reader)
except KeyboardInterrupt:
    pass
