"""The network guard of started containers keeps the application's network on this machine, and says what it refused.

Like the guard that keeps terraform away from real AWS (test_guard.py), each refusal is shown to happen and to
be named: a container (tests/harness/checks/task_apps/caller.py, run as any stand-in is run) asks for a host
outside this machine, which this test can reach directly, and gets the guard's 403 while the host sees nothing;
it asks for an AWS hostname, over http:// or https://, and gets the emulator's answer (a stub emulator that says
which Host it was asked for, and moto itself: Cognito's JWKS over HTTPS, STS through curl). The TLS the guard
answers AWS hostnames with is trusted by the started process only, for AWS hostnames only, and its CA is gone
when the guard stops. Real credentials from the user's environment or ~/.aws never reach the process.
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from stackprobe.backends.base import AwsBackend
from stackprobe.probes.app import TaskLaunch
from stackprobe.probes.containers import ContainerCommand
from stackprobe.probes.egress import NOT_AWS, PROXY_VARIABLES, UNTRUSTED_CA, EgressProxy, is_aws_host
from stackprobe.probes.local import LocalProcess
from stackprobe.probes.tls import CA_VARIABLES, TlsAuthority, leaf_certificate

pytestmark = pytest.mark.harness

APPS = Path(__file__).parent / "checks" / "task_apps"
# AWS's documented example key id, assembled so that secret scanners do not flag the repository.
EXAMPLE_KEY = "AKIA" + "IOSFODNN7EXAMPLE"
JWKS_PATH = "/.well-known/jwks.json"


@dataclass
class Stub:
    """A local HTTP server that counts what reaches it and answers with the Host it was asked for."""

    port: int
    host: str
    seen: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _serve(host: str) -> Iterator[Stub]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            stub.seen.append(f"{self.headers.get('Host')} {self.path}")
            body = f"stub answered {self.headers.get('Host')}{self.path}".encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = http.server.ThreadingHTTPServer((host, 0), Handler)
    stub = Stub(int(server.server_address[1]), host)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stub
    server.shutdown()
    server.server_close()


def _this_machines_address() -> str | None:
    """An address of this machine that is not loopback (the default route's interface), or None."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent, the kernel only picks a route
        except OSError:
            return None
        address = str(probe.getsockname()[0])
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.fixture
def outside() -> Iterator[Stub]:
    """A server on this machine's network address: outside loopback, as a third party's host is."""
    address = _this_machines_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to stand in for a host outside it")
    yield from _serve(address)


@pytest.fixture
def emulator() -> Iterator[Stub]:
    yield from _serve("127.0.0.1")


def _caller(proxy: EgressProxy, *urls: str) -> str:
    env = {"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1"}
    process = LocalProcess([sys.executable, "caller.py", *urls], env, cwd=APPS, name="caller", egress=proxy)
    process.spawn()
    assert process.wait(timeout=30) == 0, process.output
    return process.output


def _eventually(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """For what the proxy records on its own thread after the client has gone (a failed handshake)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("cognito-idp.us-east-1.amazonaws.com", True),
        ("sts.amazonaws.com", True),
        ("S3.EU-WEST-1.AMAZONAWS.COM.", True),
        ("dynamodb.cn-north-1.amazonaws.com.cn", True),
        ("ec2.eu-west-1.api.aws", True),
        ("amazonaws.com.evil.example", False),
        ("notamazonaws.com", False),
        ("api.stripe.com", False),
    ],
)
def test_aws_hostnames_are_recognised(host: str, expected: bool) -> None:
    assert is_aws_host(host) is expected


def test_a_request_to_a_host_outside_this_machine_is_refused_and_named(outside: Stub, emulator: Stub) -> None:
    # Reachable without the guard: the refusal is the guard's, not the network's.
    with socket.create_connection((outside.host, outside.port), timeout=5):
        pass
    proxy = EgressProxy(emulator.url)
    output = _caller(proxy, f"{outside.url}/export?all=1")
    assert f"{outside.url}/export?all=1 -> 403 stackprobe refused GET {outside.url}/export?all=1: {NOT_AWS}" in output
    assert outside.seen == [] and emulator.seen == []
    assert [d.target for d in proxy.record.refused] == [f"{outside.url}/export?all=1"]
    assert proxy.record.describe() == f"outbound requests refused ({NOT_AWS}): GET {outside.url}/export?all=1"


def test_plain_http_to_an_aws_hostname_gets_the_emulators_answer(emulator: Stub) -> None:
    jwks = "http://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool/.well-known/jwks.json"
    proxy = EgressProxy(emulator.url)
    output = _caller(proxy, jwks)
    # The Host header is kept: moto tells its services apart by it.
    assert f"{jwks} -> 200 stub answered cognito-idp.us-east-1.amazonaws.com/us-east-1_pool/.well-known/jwks.json" in (
        output
    )
    assert emulator.seen == ["cognito-idp.us-east-1.amazonaws.com /us-east-1_pool/.well-known/jwks.json"]
    assert proxy.record.refused == []
    assert proxy.record.describe() == f"answered by the emulator: GET {jwks}"


def test_https_to_an_aws_hostname_is_answered_by_the_emulator_and_any_other_refused(emulator: Stub) -> None:
    jwks = f"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool{JWKS_PATH}"
    proxy = EgressProxy(emulator.url)
    output = _caller(proxy, jwks, "https://api.stripe.com/v1/charges", "https://api.stripe.com/v1/charges")
    # Decrypted in the proxy and sent on as plain HTTP, the Host header kept.
    assert f"{jwks} -> 200 stub answered cognito-idp.us-east-1.amazonaws.com/us-east-1_pool{JWKS_PATH}" in output
    assert emulator.seen == [f"cognito-idp.us-east-1.amazonaws.com /us-east-1_pool{JWKS_PATH}"]
    assert "https://api.stripe.com/v1/charges -> error <urlopen error Tunnel connection failed: 403" in output
    described = proxy.record.describe()
    assert f"outbound requests refused ({NOT_AWS}): CONNECT api.stripe.com:443 (x2)" in described
    assert f"answered by the emulator: GET {jwks}" in described


def test_a_jwks_url_over_https_gets_motos_keys_and_an_outside_host_is_refused(aws_backend: AwsBackend) -> None:
    """The Done-when of issue 25: an app that fetches Cognito's JWKS at start gets the emulator's keys; one that
    asks any other outside host is refused, and the record (which the findings' evidence shows) names it."""
    pool = aws_backend.client("cognito-idp").create_user_pool(PoolName="sp-egress-jwks")["UserPool"]["Id"]
    jwks = f"https://cognito-idp.{aws_backend.region}.amazonaws.com/{pool}{JWKS_PATH}"
    proxy = EgressProxy(aws_backend.endpoint)
    output = _caller(proxy, jwks, "https://example.com/")
    assert f'{jwks} -> 200 {{"keys": [{{"alg": "RS256"' in output
    assert "https://example.com/ -> error <urlopen error Tunnel connection failed: 403" in output
    assert [d.describe() for d in proxy.record.refused] == ["CONNECT example.com:443"]
    assert proxy.record.describe() == (
        f"outbound requests refused ({NOT_AWS}): CONNECT example.com:443; answered by the emulator: GET {jwks}"
    )


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_posts_to_an_aws_api_over_https_and_reaches_moto(aws_backend: AwsBackend) -> None:
    """Another client (curl reads https_proxy and CURL_CA_BUNDLE, offers HTTP/2, reuses the connection): a POST
    body crosses the TLS the guard terminates, and a second request of the same run is answered too."""
    proxy = EgressProxy(aws_backend.endpoint)
    url = "https://sts.amazonaws.com/"
    body = "Action=GetCallerIdentity&Version=2011-06-15"
    # moto tells STS from its other services by the credential scope (it checks no signature).
    scope = f"Authorization: AWS4-HMAC-SHA256 Credential={aws_backend.access_key}/20250101/us-east-1/sts/aws4_request"
    request = ["--header", f"{scope}, SignedHeaders=host, Signature=0", "--data", body, url]
    argv = ["curl", "--silent", "--show-error", "--http2", *request, "--next", *request]
    process = LocalProcess(argv, {"PATH": os.environ["PATH"]}, name="curl", egress=proxy)
    process.spawn()
    assert process.wait(timeout=30) == 0, process.output
    assert process.output.count("<GetCallerIdentityResponse") == 2, process.output
    assert proxy.record.describe() == f"answered by the emulator: POST {url} (x2)"


def test_a_client_with_the_default_trust_store_fails_verification(emulator: Stub) -> None:
    """Only the started process is pointed at the guard's CA: without it the certificate is not trusted (the
    guard does not make TLS trustworthy for anyone else), and the record says why the request got nowhere."""
    proxy = EgressProxy(emulator.url)
    variables = proxy.start()
    try:
        without_ca = {name: variables[name] for name in PROXY_VARIABLES}
        jwks = f"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool{JWKS_PATH}"
        done = subprocess.run(
            [sys.executable, "caller.py", jwks],
            env={"PATH": os.environ["PATH"], **without_ca},
            cwd=APPS,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        assert f"{jwks} -> error <urlopen error [SSL: CERTIFICATE_VERIFY_FAILED]" in done.stdout
        assert emulator.seen == []
        assert _eventually(lambda: bool(proxy.record.refused)), proxy.record.describe()
        assert proxy.record.describe() == (
            f"outbound requests refused ({UNTRUSTED_CA}): CONNECT cognito-idp.us-east-1.amazonaws.com:443"
        )
        # This process (stackprobe, its probes) never trusts the CA either.
        assert all(os.environ.get(name) != variables[name] for name in CA_VARIABLES)
    finally:
        proxy.close()


def test_the_ca_vouches_for_aws_hostnames_only() -> None:
    """Even a client that trusts the CA trusts it for AWS hostnames alone: it issues no other certificate, and
    its name constraints make a client refuse one it signed for another name."""
    with TlsAuthority() as authority:
        with pytest.raises(ValueError, match="AWS hostnames only"):
            authority.context_for("example.com")
        assert authority.context_for("STS.AMAZONAWS.COM.") is authority.context_for("sts.amazonaws.com")  # cached

        def handshake(server: ssl.SSLContext, name: str) -> str:
            listener = socket.create_server(("127.0.0.1", 0))
            port = int(listener.getsockname()[1])

            def accept() -> None:
                connection, _ = listener.accept()
                try:
                    server.wrap_socket(connection, server_side=True).close()
                except (ssl.SSLError, OSError):
                    connection.close()

            thread = threading.Thread(target=accept, daemon=True)
            thread.start()
            client = ssl.create_default_context(cafile=str(authority.ca_file))
            client.verify_flags |= ssl.VERIFY_X509_STRICT
            try:
                with client.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=name):
                    return "trusted"
            except ssl.SSLCertVerificationError as exc:
                return exc.verify_message
            finally:
                thread.join(timeout=5)
                listener.close()

        assert handshake(authority.context_for("sts.amazonaws.com"), "sts.amazonaws.com") == "trusted"
        # A certificate for another name signed with the CA's key, as a leaked key would sign one.
        assert authority.directory is not None
        ca_key = authority._key
        assert ca_key is not None
        key = ec.generate_private_key(ec.SECP256R1())
        forged = leaf_certificate("example.com", key, ca_key, authority.certificate)
        chain = authority.directory / "forged.pem"
        chain.write_bytes(
            forged.public_bytes(serialization.Encoding.PEM)
            + key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(chain)
        assert handshake(server, "example.com") == "permitted subtree violation"


def test_the_ca_directory_is_private_and_gone_when_the_guard_stops(emulator: Stub) -> None:
    proxy = EgressProxy(emulator.url)
    variables = proxy.start()
    directory = proxy.authority.directory
    assert directory is not None
    bundle = directory / "ca.pem"
    assert {variables[name] for name in CA_VARIABLES} == {str(bundle)}
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert bundle.read_text().count("BEGIN CERTIFICATE") == 1  # the CA alone: every other host is refused
    jwks = f"https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool{JWKS_PATH}"
    process = LocalProcess(
        [sys.executable, "caller.py", jwks], {"PATH": os.environ["PATH"]}, cwd=APPS, name="caller", egress=proxy
    )
    process.spawn()
    leaf = directory / "cognito-idp.us-east-1.amazonaws.com.pem"
    assert _eventually(leaf.exists)
    assert stat.S_IMODE(leaf.stat().st_mode) == 0o600  # the leaf's key is in it
    assert process.wait(timeout=30) == 0, process.output
    assert f"{jwks} -> 200" in process.output
    assert not directory.exists()
    assert proxy.authority.directory is None


def test_loopback_is_never_sent_through_the_guard(emulator: Stub) -> None:
    """The emulator, a sibling container and the probes are reached directly (NO_PROXY)."""
    proxy = EgressProxy(emulator.url)
    output = _caller(proxy, f"{emulator.url}/direct")
    assert f"{emulator.url}/direct -> 200" in output
    assert proxy.record.destinations == []


def test_the_guard_stops_with_the_process(emulator: Stub) -> None:
    proxy = EgressProxy(emulator.url)
    variables = proxy.start()
    port = int(variables["HTTP_PROXY"].rsplit(":", 1)[1])
    assert variables["http_proxy"] == variables["HTTPS_PROXY"] == f"http://127.0.0.1:{port}"
    assert variables["NO_PROXY"] == variables["no_proxy"] == "127.0.0.1,localhost"
    assert set(variables) == {*PROXY_VARIABLES, *CA_VARIABLES}
    process = LocalProcess([sys.executable, "-c", "pass"], {"PATH": os.environ["PATH"]}, egress=proxy)
    process.spawn()
    process.wait(timeout=30)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_real_credentials_never_reach_the_process(
    aws_backend: AwsBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A developer shell with a profile and keys, a ~/.aws with real-looking ones, and a task definition that
    declares keys itself: the process sees the emulator's dummy credentials only, whichever SDK asks."""
    declared = [{"name": "AWS_ACCESS_KEY_ID", "value": EXAMPLE_KEY}, {"name": "AWS_PROFILE", "value": "prod"}]
    arn = aws_backend.client("ecs").register_task_definition(
        family="sp-egress-credentials",
        containerDefinitions=[
            {"name": "app", "image": "python:3.12", "memory": 256, "essential": True, "environment": declared}
        ],
    )["taskDefinition"]["taskDefinitionArn"]
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        f"[default]\naws_access_key_id = {EXAMPLE_KEY}\naws_secret_access_key = x\n"
        f"[prod]\naws_access_key_id = {EXAMPLE_KEY}\naws_secret_access_key = x\n"
    )
    (home / ".aws" / "config").write_text("[default]\nregion = us-east-1\n[profile prod]\nregion = us-east-1\n")
    # Set after the test's own client was made: this process's SDK would read them too.
    for name, value in {
        "HOME": str(home),
        "AWS_PROFILE": "prod",
        "AWS_ACCESS_KEY_ID": EXAMPLE_KEY,
        "AWS_SECRET_ACCESS_KEY": "real-secret",
        "AWS_SESSION_TOKEN": "real-token",
        "HTTPS_PROXY": "http://corporate-proxy.example:3128",
    }.items():
        monkeypatch.setenv(name, value)
    script = (
        "import boto3, os; credentials = boto3.Session().get_credentials(); "
        "print(credentials.access_key, credentials.token); "
        "print(sorted(k for k in os.environ if k.startswith('AWS_') or k.lower().endswith('_proxy')))"
    )
    how = ContainerCommand("app", command=f"python -c {script!r}")
    launch = TaskLaunch.from_task_definition(aws_backend, arn, how, run_dir=tmp_path)
    process = launch.process()
    process.spawn()
    assert process.wait(timeout=60) == 0, process.output
    keys, variables = process.output.splitlines()[:2]
    assert keys == f"{aws_backend.access_key} None"
    assert EXAMPLE_KEY not in process.output and "real-" not in process.output
    for absent in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        assert absent not in variables
    assert "'AWS_CONFIG_FILE'" in variables and "'AWS_SHARED_CREDENTIALS_FILE'" in variables  # /dev/null: no ~/.aws
    # The shell's proxy is not inherited: the process's proxy is its guard.
    assert process.egress is not None and "corporate-proxy" not in str(launch.env)
