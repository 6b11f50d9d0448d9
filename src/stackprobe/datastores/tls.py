"""TLS for local servers that stand in for endpoints AWS serves over TLS only.

ElastiCache with transit encryption (required for an AUTH token) and RDS PostgreSQL 15 and later (whose default
parameter group sets `rds.force_ssl = 1`) accept TLS connections only, so a client that connects without TLS
fails there, and must fail here. The local server gets a certificate of a certificate authority made for the run
(`LocalAuthority`), naming the endpoints it stands in for and 127.0.0.1, and the containers under probe are
told to trust this authority besides their network guard's (`stackprobe.probes.addresses.AddressMap.trust`),
so a client that verifies the server (as it must on AWS, where Amazon's authority signs it) verifies the local
one too.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    )


@dataclass(frozen=True)
class ServerCertificate:
    """A server's certificate and key files, and the authority that signed it."""

    certificate: Path
    key: Path
    authority: Path


class LocalAuthority:
    """A certificate authority of one run, kept in `directory` (removed with it)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)  # servers run as an unprivileged user read the authority's certificate
        self._key = _key()
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "stackprobe local datastores CA")])
        now = datetime.datetime.now(datetime.UTC)
        self._name = name
        self._certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.certificate = directory / "ca.pem"
        self.certificate.write_bytes(self._certificate.public_bytes(serialization.Encoding.PEM))

    def issue(self, label: str, hostnames: Iterable[str], directory: Path) -> ServerCertificate:
        """A certificate for a local server: the endpoint `hostnames` it stands in for, localhost and 127.0.0.1."""
        key = _key()
        names = sorted({name for name in hostnames if name} | {"localhost"})
        now = datetime.datetime.now(datetime.UTC)
        alternatives: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
        alternatives.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0] if names else label)]))
            .issuer_name(self._name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        directory.mkdir(parents=True, exist_ok=True)
        cert_path, key_path = directory / "server.crt", directory / "server.key"
        cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(_pem_key(key))
        key_path.chmod(0o600)
        # A copy beside them: the server (an unprivileged user, as root) may not reach the authority's directory.
        authority = directory / "ca.pem"
        authority.write_bytes(self.certificate.read_bytes())
        return ServerCertificate(cert_path, key_path, authority)
