"""A real RFC 3161 timestamp authority on 127.0.0.1 for the tests: it parses the request,
signs a TSTInfo over its message imprint with its own self-signed RSA certificate (asn1crypto
for the ASN.1, cryptography for the keys), and answers `application/timestamp-reply`."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class TimestampAuthority:
    """`with TimestampAuthority() as tsa:` serves at `tsa.url`; `fail=True` answers 500."""

    def __init__(self, fail: bool = False) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "docwatch test TSA")])
        now = datetime.now(timezone.utc)
        certificate = (
            x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(self.key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(self.key, hashes.SHA256())
        )
        self.certificate = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
        self.fail = fail
        self.requests = 0
        self.serial = 0
        authority = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                authority.requests += 1
                if authority.fail:
                    self.send_error(500, "TSA out of order")
                    return
                reply = authority.reply(tsp.TimeStampReq.load(body))
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/tsa"

    def reply(self, request: tsp.TimeStampReq) -> bytes:
        self.serial += 1
        info = tsp.TSTInfo({
            "version": "v1", "policy": "1.3.6.1.4.1.99999.1", "message_imprint": request["message_imprint"],
            "serial_number": self.serial, "gen_time": datetime.now(timezone.utc).replace(microsecond=0),
            "nonce": request["nonce"].native,
        })
        attributes = cms.CMSAttributes([
            {"type": "content_type", "values": ["tst_info"]},
            {"type": "message_digest", "values": [hashlib.sha256(info.dump()).digest()]},
        ])
        signature = self.key.sign(attributes.dump(), padding.PKCS1v15(), hashes.SHA256())
        signed = cms.SignedData({
            "version": "v3", "digest_algorithms": [{"algorithm": "sha256"}],
            "encap_content_info": {"content_type": "tst_info", "content": info},
            "certificates": [self.certificate],
            "signer_infos": [{
                "version": "v1",
                "sid": cms.SignerIdentifier({"issuer_and_serial_number": {
                    "issuer": self.certificate.issuer, "serial_number": self.certificate.serial_number}}),
                "digest_algorithm": {"algorithm": "sha256"}, "signed_attrs": attributes,
                "signature_algorithm": {"algorithm": "rsassa_pkcs1v15"}, "signature": signature,
            }],
        })
        return tsp.TimeStampResp({
            "status": {"status": "granted"},
            "time_stamp_token": {"content_type": "signed_data", "content": signed},
        }).dump()

    def __enter__(self) -> "TimestampAuthority":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
