"""The certificate authority of a network guard: TLS to AWS hostnames answered on this machine.

A started container's HTTPS to `cognito-idp.us-east-1.amazonaws.com` reaches the guard as a CONNECT
(`stackprobe.probes.egress`). To answer it with the emulator's reply, the guard must finish the TLS handshake
as that host, with a certificate the client trusts. `TlsAuthority` makes that possible and nothing more:

- a CA made for the guard's run (an ECDSA P-256 key, valid for a day), whose key never leaves memory;
- name constraints in the CA certificate permit AWS's domains only (`amazonaws.com`, `amazonaws.com.cn`,
  `api.aws`), and `certificate_for` refuses any other name: even a client that trusts the CA trusts it for
  nothing but AWS hostnames, which the guard answers from the emulator anyway;
- a leaf certificate per hostname, issued on first use and cached with its server context for the run;
- the CA certificate (`ca.pem`, the bundle the process is pointed at through `CA_VARIABLES`) and each
  leaf's certificate and key live in a private temporary directory (mode 0700) removed by `close()`.

Only the started process is pointed at the CA: stackprobe, the probes and every other program on this machine
keep their own trust store, so no one else's TLS is weakened.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import shutil
import ssl
import tempfile
import threading
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# What each client reads its trust store from: OpenSSL-based programs (Python's ssl, Ruby, PHP, Go on Linux)
# and uv read SSL_CERT_FILE; requests REQUESTS_CA_BUNDLE; curl CURL_CA_BUNDLE; Node NODE_EXTRA_CA_CERTS (added
# to its own roots); the AWS SDKs and CLI AWS_CA_BUNDLE. The bundle is the CA alone: every other host is
# refused by the guard, so no other root is needed.
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "NODE_EXTRA_CA_CERTS", "AWS_CA_BUNDLE")
# The only names the CA may vouch for (its name constraints; `egress.AWS_DOMAINS` is the same list).
PERMITTED_DOMAINS = ("amazonaws.com", "amazonaws.com.cn", "api.aws")
VALIDITY = datetime.timedelta(days=1)
CLOCK_SKEW = datetime.timedelta(hours=1)  # a container whose clock is a little behind still accepts the leaf


def _permitted(host: str) -> bool:
    return any(host == domain or host.endswith(f".{domain}") for domain in PERMITTED_DOMAINS)


class TlsAuthority:
    """A CA for one run, its bundle on disk, and a server `ssl.SSLContext` per AWS hostname it was asked for.

    Created on first use of `ca_file` or `context_for`, so a guard whose process makes no HTTPS request costs
    nothing; `close()` removes the directory, and a closed authority starts afresh (a new CA) if used again.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._directory: Path | None = None
        self._key: ec.EllipticCurvePrivateKey | None = None
        self._certificate: x509.Certificate | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}

    def __enter__(self) -> TlsAuthority:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def directory(self) -> Path | None:
        """The private directory, while it exists."""
        return self._directory

    @property
    def ca_file(self) -> Path:
        """The CA certificate (PEM): the trust bundle the started process is given."""
        with self._lock:
            return self._ensure()[0] / "ca.pem"

    @property
    def certificate(self) -> x509.Certificate:
        with self._lock:
            self._ensure()
            assert self._certificate is not None
            return self._certificate

    def variables(self) -> dict[str, str]:
        """Every CA variable (`CA_VARIABLES`) pointing at the bundle."""
        bundle = str(self.ca_file)
        return dict.fromkeys(CA_VARIABLES, bundle)

    def context_for(self, host: str) -> ssl.SSLContext:
        """The server context that answers TLS as `host` (an AWS hostname), with a leaf issued for it."""
        name = host.lower().rstrip(".")
        if not _permitted(name):
            raise ValueError(f"stackprobe's CA vouches for AWS hostnames only, not {host!r}")
        with self._lock:
            directory, key, ca = self._ensure()
            context = self._contexts.get(name)
            if context is None:
                context = self._contexts[name] = _server_context(directory, name, key, ca)
            return context

    def close(self) -> None:
        with self._lock:
            directory, self._directory = self._directory, None
            self._key = self._certificate = None
            self._contexts.clear()
        if directory is not None:
            shutil.rmtree(directory, ignore_errors=True)

    def _ensure(self) -> tuple[Path, ec.EllipticCurvePrivateKey, x509.Certificate]:
        """The directory, key and certificate of the CA, made on first use (the caller holds the lock)."""
        if self._directory is None or self._key is None or self._certificate is None:
            directory = Path(tempfile.mkdtemp(prefix="stackprobe-ca-"))  # mode 0700: this user only
            try:
                key = ec.generate_private_key(ec.SECP256R1())
                certificate = ca_certificate(key, "stackprobe network guard CA (this run only)", PERMITTED_DOMAINS)
                _write(directory / "ca.pem", certificate.public_bytes(serialization.Encoding.PEM), 0o644)
            except BaseException:
                shutil.rmtree(directory, ignore_errors=True)
                raise
            self._directory, self._key, self._certificate = directory, key, certificate
        return self._directory, self._key, self._certificate


def ca_certificate(
    key: ec.EllipticCurvePrivateKey,
    common_name: str,
    permitted: tuple[str, ...] = (),
    valid_for: datetime.timedelta = VALIDITY,
) -> x509.Certificate:
    """A self-signed CA certificate for one run; with `permitted`, name constraints limit it to those domains."""
    now = datetime.datetime.now(datetime.UTC)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "stackprobe"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    public = key.public_key()
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + valid_for)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
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
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
    )
    if permitted:
        # Not critical: a client that does not know name constraints still accepts the CA; one that does
        # (OpenSSL, Go, Node) refuses any certificate of it for a name outside the permitted domains.
        subtrees: list[x509.GeneralName] = [x509.DNSName(domain) for domain in permitted]
        constraints = x509.NameConstraints(permitted_subtrees=subtrees, excluded_subtrees=None)
        builder = builder.add_extension(constraints, critical=False)
    return builder.sign(key, hashes.SHA256())


def leaf_certificate(
    host: str,
    key: ec.EllipticCurvePrivateKey,
    ca_key: ec.EllipticCurvePrivateKey,
    ca: x509.Certificate,
    *,
    also: tuple[str, ...] = (),
    addresses: tuple[str, ...] = (),
    valid_for: datetime.timedelta = VALIDITY,
) -> x509.Certificate:
    """A server certificate for `host` (and the names `also`, the IP `addresses`) signed by the CA; no check of
    the names: `TlsAuthority` makes that."""
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    names: list[x509.GeneralName] = [x509.DNSName(name) for name in (host, *also)]
    names += [x509.IPAddress(ipaddress.ip_address(address)) for address in addresses]
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]))
        .issuer_name(ca.subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + valid_for)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _server_context(
    directory: Path, host: str, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate
) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = leaf_certificate(host, key, ca_key, ca)
    chain = directory / f"{host}.pem"  # the leaf, the CA and the leaf's key: ssl loads them from a file only
    _write(
        chain,
        certificate.public_bytes(serialization.Encoding.PEM)
        + ca.public_bytes(serialization.Encoding.PEM)
        + key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ),
        0o600,
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(chain)
    # The guard forwards HTTP/1.1: a client that offers h2 (curl, Go, undici) is told to speak HTTP/1.1.
    context.set_alpn_protocols(["http/1.1"])
    return context


def _write(path: Path, content: bytes, mode: int) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as file:
        file.write(content)
