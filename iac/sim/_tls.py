"""A throwaway self-signed certificate for serving a simulator over HTTPS under the vendor's own hostname.

The upstream baton connectors only talk HTTPS to fixed or validated hostnames (``acme.okta.com``,
``api.integrator.io``); they trust the certificate through ``SSL_CERT_FILE``.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["TlsFiles", "make_certificate"]


@dataclass(frozen=True)
class TlsFiles:
    """PEM files: ``certificate`` (also the CA a client trusts) and its private ``key``."""

    certificate: Path
    key: Path
    hostname: str


def make_certificate(hostname: str, directory: Path, *, days: int = 2, also: Sequence[str] = ()) -> TlsFiles:
    """Write ``<hostname>.crt``/``.key`` (EC P-256; SAN = the hostname and ``also``) into ``directory``; the key
    is 0600."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    names: list[x509.GeneralName] = []
    for each in (hostname, *also):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(each)))
        except ValueError:
            names.append(x509.DNSName(each))
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        # A self-signed leaf that is also its own trust anchor: Go accepts it as a root only with CA:TRUE.
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / f"{hostname}.crt"
    key_path = directory / f"{hostname}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.touch(mode=0o600)
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return TlsFiles(cert_path, key_path, hostname)
