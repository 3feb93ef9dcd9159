"""A real SMTP server (PyPI's aiosmtpd) for the smtp probe, on 127.0.0.1:

  STARTTLS_PORT  EHLO offers STARTTLS; AUTH (PLAIN, LOGIN) only after it
  PLAIN_PORT     no STARTTLS offered; AUTH over plain TCP (a server that
                 cannot do TLS, for `starttls: required` to refuse)
  TLS_PORT       implicit TLS from the first byte (the port-465 form)

Every port takes USER with PASSWORD and answers 535 to anything else. A MAIL
command is logged as "MAIL seen" (the probe must never send one); the
password is never logged.

  python3 Tests/Fixtures/smtp_server.py CERT KEY USER PASSWORD STARTTLS_PORT PLAIN_PORT TLS_PORT
"""
import signal, ssl, sys, threading, warnings
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Handler:
    async def handle_MAIL(self, server, session, envelope, address, options):
        print("MAIL seen", flush=True)
        return "250 OK"


def main():
    warnings.simplefilter("ignore", DeprecationWarning)  # aiosmtpd's own login_data notice at each login
    cert, key, user, password = sys.argv[1:5]
    starttls_port, plain_port, tls_port = (int(port) for port in sys.argv[5:8])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server, session, envelope, mechanism, data):
        accepted = isinstance(data, LoginPassword) and data.login == user.encode() and data.password == password.encode()
        print(f"AUTH {mechanism} {'accepted' if accepted else 'refused'}", flush=True)
        return AuthResult(success=accepted, handled=False, auth_data=data)

    common = dict(hostname="127.0.0.1", authenticator=authenticator, server_hostname="vigil-test-smtp")
    controllers = [
        Controller(Handler(), port=starttls_port, tls_context=context, **common),
        Controller(Handler(), port=plain_port, auth_require_tls=False, **common),
        # aiosmtpd counts only STARTTLS as TLS: this port is TLS from the start.
        Controller(Handler(), port=tls_port, ssl_context=context, auth_require_tls=False, **common),
    ]
    for controller in controllers:
        controller.start()
    print(f"smtp on {starttls_port} (STARTTLS), {plain_port} (plain), {tls_port} (TLS)", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stop.wait()
    for controller in controllers:
        controller.stop()


if __name__ == "__main__":
    main()
