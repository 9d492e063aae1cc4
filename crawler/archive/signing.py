"""Signing evidence packages: an anonymous ECDSA P-256 signature as in Webrecorder's WACZ
Signing and Verification (0.1.0), and RFC 3161 timestamps from the authorities a user names.

The key pair is made on first use and kept in the data directory (`keys/signing-key.pem`,
readable by its owner only): the signature shows a package is unchanged since that key signed
it; whose key it is has to be established outside the package (publish the public key). A
timestamp token shows the package's manifest existed at the authority's time; it is checked
against the certificate the token carries, whose trust the reader judges.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import rfc3161ng
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

import crawler

KEY_FILE = Path("keys") / "signing-key.pem"  # in the data directory
P256_BYTES = 32
TIMESTAMP_TIMEOUT = 30.0  # seconds per authority


def signing_key(data_dir: Path) -> ec.EllipticCurvePrivateKey:
    """The data directory's key pair, made (ECDSA P-256, file mode 0600) when there is none."""
    path = Path(data_dir) / KEY_FILE
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError(f"{path} is not an ECDSA P-256 private key: move it away to have a new one made")
        return key
    key = ec.generate_private_key(ec.SECP256R1())
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        out.write(pem)
    return key


def public_key_text(key: ec.EllipticCurvePrivateKey) -> str:
    """The public key as the spec carries it: base64 of its DER SubjectPublicKeyInfo."""
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def signed_data(key: ec.EllipticCurvePrivateKey, manifest_hash: str, created: str) -> dict:
    """The anonymous `signedData`: `signature` is ECDSA-SHA256 over the text of `manifest_hash`
    ("sha256:<hex>"), as r‖s (the form WebCrypto, and so ArchiveWeb.page, writes), base64."""
    r, s = decode_dss_signature(key.sign(manifest_hash.encode("utf-8"), ec.ECDSA(hashes.SHA256())))
    raw = r.to_bytes(P256_BYTES, "big") + s.to_bytes(P256_BYTES, "big")
    return {"hash": manifest_hash, "created": created, "software": "docwatch", "version": crawler.__version__,
            "signature": base64.b64encode(raw).decode("ascii"), "publicKey": public_key_text(key)}


def signature_problem(signed: dict) -> str | None:
    """What is wrong with an anonymous `signedData` (None: the signature holds for its hash)."""
    try:
        public_key = serialization.load_der_public_key(base64.b64decode(signed["publicKey"], validate=True))
        raw = base64.b64decode(signed["signature"], validate=True)
    except (KeyError, TypeError, ValueError) as error:
        return f"the signature or public key cannot be read: {error}"
    if not isinstance(public_key, ec.EllipticCurvePublicKey) or len(raw) != 2 * P256_BYTES:
        return "the public key is not ECDSA P-256, or the signature is not 64 bytes (r‖s)"
    signature = encode_dss_signature(int.from_bytes(raw[:P256_BYTES], "big"), int.from_bytes(raw[P256_BYTES:], "big"))
    try:
        public_key.verify(signature, str(signed.get("hash")).encode("utf-8"), ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return "the signature does not match the manifest hash with the package's public key"
    return None


def fingerprint(public_key: str) -> str:
    """A short name for a public key (SHA-256 of its DER, first 16 hex digits), to compare with the one published."""
    return hashlib.sha256(base64.b64decode(public_key)).hexdigest()[:16]


def timestamp(authority: str, digest: bytes) -> dict:
    """A timestamp token for `digest` (SHA-256) from one RFC 3161 authority; raises
    rfc3161ng.TimestampingError or ValueError when it gives none."""
    stamper = rfc3161ng.RemoteTimestamper(authority, hashname="sha256", include_tsa_certificate=True,
                                          timeout=TIMESTAMP_TIMEOUT)
    token = stamper.timestamp(digest=digest, nonce=int.from_bytes(os.urandom(8), "big"))
    entry = {"authority": authority, "token": base64.b64encode(token).decode("ascii")}
    problem, stamped_at = timestamp_problem(entry, digest)
    if problem:
        raise ValueError(f"{authority} answered with a token that does not check: {problem}")
    return {**entry, "time": stamped_at}


def timestamp_problem(entry: dict, digest: bytes) -> tuple[str | None, str | None]:
    """(what is wrong with a timestamp entry, or None; the time it states). The token must
    stamp `digest` and be signed by the certificate it carries."""
    try:
        token = base64.b64decode(entry["token"], validate=True)
        rfc3161ng.check_timestamp(token, certificate=b"", digest=digest, hashname="sha256")
        stamped_at = rfc3161ng.get_timestamp(token, naive=False).isoformat()
    except Exception as error:  # noqa: BLE001 (pyasn1, cryptography and rfc3161ng each raise their own)
        return f"{type(error).__name__}: {error}", None
    return None, stamped_at
