"""The SMTP sink behind scripts/smtp-test-server: aiosmtpd on two loopback
ports, storing every message it accepts as a file.

  python smtp-test-server.py DIR STARTTLS_PORT PLAIN_PORT USER PASSWORD

STARTTLS_PORT speaks STARTTLS with DIR/cert.pem and requires it before
AUTH and before any mail, and requires AUTH (USER / PASSWORD, PLAIN or
LOGIN). PLAIN_PORT has no TLS; AUTH is offered there but not required.
Each accepted message is DIR/messages/NAME.eml (the bytes as received)
with DIR/messages/NAME.json beside it: {"port", "tls", "login",
"mail_from", "rcpt_tos"}. The .json is written first and the .eml renamed
into place last, so a reader that sees the .eml sees both whole.
DIR/ready appears once both ports listen.
"""

import asyncio
import itertools
import json
import logging
import os
import ssl
import sys
import time

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

DIR, TLS_PORT, PLAIN_PORT, USER, PASSWORD = sys.argv[1:6]
MESSAGES = os.path.join(DIR, "messages")
COUNTER = itertools.count(1)


def write(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Sink:
    def __init__(self, port):
        self.port = port

    async def handle_DATA(self, server, session, envelope):
        name = "%d-%06d" % (time.time_ns(), next(COUNTER))
        data = envelope.original_content or envelope.content
        login = None
        if session.authenticated and isinstance(session.auth_data, LoginPassword):
            login = session.auth_data.login.decode("utf-8", "replace")
        meta = {
            "port": self.port,
            "tls": session.ssl is not None,
            "login": login,
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
        }
        base = os.path.join(MESSAGES, name)
        write(base + ".json", json.dumps(meta).encode())
        write(base + ".eml", data)
        logging.info("stored %s from %s to %s", name, envelope.mail_from, envelope.rcpt_tos)
        return "250 2.0.0 OK stored as " + name


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (
        isinstance(auth_data, LoginPassword)
        and auth_data.login == USER.encode()
        and auth_data.password == PASSWORD.encode()
    )
    # handled=False: aiosmtpd answers a refusal itself (535).
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


async def main():
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(os.path.join(DIR, "cert.pem"), os.path.join(DIR, "key.pem"))
    loop = asyncio.get_running_loop()
    common = dict(
        hostname="localhost",
        ident="OpenZero test sink",
        decode_data=False,
        authenticator=authenticator,
    )
    secure = await loop.create_server(
        lambda: SMTP(
            Sink(int(TLS_PORT)),
            tls_context=context,
            require_starttls=True,
            auth_required=True,
            auth_require_tls=True,
            **common,
        ),
        "127.0.0.1",
        int(TLS_PORT),
    )
    plain = await loop.create_server(
        lambda: SMTP(
            Sink(int(PLAIN_PORT)),
            auth_required=False,
            auth_require_tls=False,
            **common,
        ),
        "127.0.0.1",
        int(PLAIN_PORT),
    )
    write(os.path.join(DIR, "ready"), b"")
    logging.info("listening: STARTTLS on %s, plain on %s", TLS_PORT, PLAIN_PORT)
    async with secure, plain:
        await asyncio.gather(secure.serve_forever(), plain.serve_forever())


if __name__ == "__main__":
    os.makedirs(MESSAGES, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(main())
