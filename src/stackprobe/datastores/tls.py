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
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from stackprobe.probes.tls import ca_certificate, leaf_certificate

# Longer than the network guard's day: a live session (`stackprobe up`) keeps its datastores between runs.
VALIDITY = datetime.timedelta(days=2)


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
    """A certificate authority of one run, kept in `directory` (removed with it); built as the network guard's
    (`stackprobe.probes.tls`), without its name constraints: the endpoints it vouches for include localhost."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        directory.chmod(0o755)  # servers run as an unprivileged user read the authority's certificate
        self._key = _key()
        self._certificate = ca_certificate(self._key, "stackprobe local datastores CA", valid_for=VALIDITY)
        self.certificate = directory / "ca.pem"
        self.certificate.write_bytes(self._certificate.public_bytes(serialization.Encoding.PEM))

    def issue(self, hostnames: Iterable[str], directory: Path) -> ServerCertificate:
        """A certificate for a local server: the endpoint `hostnames` it stands in for, localhost and 127.0.0.1."""
        key = _key()
        first, *others = sorted({name for name in hostnames if name} | {"localhost"})
        certificate = leaf_certificate(
            first, key, self._key, self._certificate, also=tuple(others), addresses=("127.0.0.1",), valid_for=VALIDITY
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
