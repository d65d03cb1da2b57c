"""An object-store replica that cannot be read says why, in one sentence, within a bounded wait.

Every cause is produced for real against a local S3 server (moto, with authentication switched on
so that keys and policies are checked): an unknown key, a key without permission, a bucket that does
not exist, an endpoint host that does not resolve, a server that was stopped, a server that accepts
connections and never answers, and no credentials at all.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import Result, litefix
from tests.litestream_harness import migrate
from tests.s3server import S3Server, start_server

# The server is real, the database is real; the binary is only asked for its version.
pytestmark = pytest.mark.litestream

DB = "app.sqlite3"
ALLOW_S3 = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]})


@dataclass
class AuthServer:
    server: S3Server
    key: tuple[str, str]  # may do anything
    powerless: tuple[str, str]  # a valid key with no policy
    bucket: str


@pytest.fixture(scope="module")
def authed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServer]:
    """moto checks credentials after its first few (setup) requests: IAM users, keys and a bucket."""
    import boto3

    old = os.environ.get("INITIAL_NO_AUTH_ACTION_COUNT")
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "6"
    try:
        server = start_server(tmp_path_factory.mktemp("s3auth") / "moto.log")
    finally:
        if old is None:
            os.environ.pop("INITIAL_NO_AUTH_ACTION_COUNT", None)
        else:
            os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = old
    try:
        iam = boto3.client(
            "iam",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id="x",
            aws_secret_access_key="x",
        )
        iam.create_user(UserName="litestream")
        made = iam.create_access_key(UserName="litestream")["AccessKey"]
        iam.put_user_policy(UserName="litestream", PolicyName="s3", PolicyDocument=ALLOW_S3)
        iam.create_user(UserName="nobody")
        weak = iam.create_access_key(UserName="nobody")["AccessKey"]
        key = (made["AccessKeyId"], made["SecretAccessKey"])
        s3 = boto3.client(
            "s3",
            endpoint_url=server.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key[0],
            aws_secret_access_key=key[1],
        )
        s3.create_bucket(Bucket="backups")
        yield AuthServer(server, key, (weak["AccessKeyId"], weak["SecretAccessKey"]), "backups")
    finally:
        server.proc.terminate()
        server.proc.wait(10)


def _write_config(tmp_path: Path, endpoint: str, bucket: str, key: tuple[str, str] | None, extra: str = "") -> Path:
    db = tmp_path / DB
    if not db.exists():
        migrate(db, 3)
    creds = f"        access-key-id: {key[0]}\n        secret-access-key: {key[1]}\n" if key else ""
    (tmp_path / "litestream.yml").write_text(
        f"dbs:\n  - path: {db}\n    replicas:\n      - type: s3\n        bucket: {bucket}\n        path: app\n"
        f"        endpoint: {endpoint}\n        region: us-east-1\n        force-path-style: true\n{creds}{extra}"
    )
    return db


def _run(tmp_path: Path, db: Path, timeout: str) -> tuple[Result, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "LITESTREAM_ACCESS", "LITESTREAM_SECRET"))}
    env["LITEFIX_REMOTE_TIMEOUT"] = timeout
    started = time.monotonic()
    result = litefix("diagnose", db, "--config", tmp_path / "litestream.yml", "--json", env=env, timeout=120)
    assert "Traceback" not in result.err
    return result, time.monotonic() - started


def _diagnose(tmp_path: Path, endpoint: str, bucket: str, key: tuple[str, str] | None, timeout: str = "5") -> dict:  # type: ignore[type-arg]
    db = _write_config(tmp_path, endpoint, bucket, key)
    result, elapsed = _run(tmp_path, db, timeout)
    found = [f for f in result.json()["findings"] if f["code"] == "replica-unreachable"]
    assert len(found) == 1, result.out
    finding: dict = found[0]  # type: ignore[type-arg]
    assert "\n" not in finding["message"] and len(finding["message"]) < 400, finding["message"]
    finding["elapsed"] = elapsed
    return finding


def test_an_unknown_access_key_is_access_denied(authed: AuthServer, tmp_path: Path) -> None:
    found = _diagnose(tmp_path, authed.server.endpoint, authed.bucket, ("AKIAUNKNOWN0000", "s3cr3t-never-shown"))
    assert found["evidence"]["reason"] == "access-denied"
    assert found["evidence"]["credentials"] == "the replica's access-key-id"
    assert "s3cr3t-never-shown" not in str(found)
    assert "InvalidAccessKeyId" in found["message"]


def test_a_key_without_permission_is_access_denied(authed: AuthServer, tmp_path: Path) -> None:
    found = _diagnose(tmp_path, authed.server.endpoint, authed.bucket, authed.powerless)
    assert found["evidence"]["reason"] == "access-denied"
    assert "AccessDenied" in found["message"] and "list" in found["message"]


def test_a_bucket_that_does_not_exist_is_named(authed: AuthServer, tmp_path: Path) -> None:
    found = _diagnose(tmp_path, authed.server.endpoint, "no-such-bucket", authed.key)
    assert found["evidence"]["reason"] == "no-such-bucket"
    assert "s3://no-such-bucket/app" in found["message"]


def test_no_credentials_anywhere_is_no_credentials(authed: AuthServer, tmp_path: Path) -> None:
    found = _diagnose(tmp_path, authed.server.endpoint, authed.bucket, None)
    assert found["evidence"]["reason"] == "no-credentials", found
    assert found["evidence"]["credentials"] == "the default AWS chain"
    assert found["elapsed"] < 30


def test_an_endpoint_host_that_does_not_resolve_is_a_bad_endpoint(tmp_path: Path) -> None:
    found = _diagnose(tmp_path, "http://no-such-host.invalid:9000", "backups", ("a", "b"))
    assert found["evidence"]["reason"] == "bad-endpoint", found


def test_a_stopped_server_is_connection_refused(tmp_path: Path) -> None:
    server = start_server(tmp_path / "moto.log")
    endpoint = server.endpoint
    server.proc.terminate()
    server.proc.wait(10)
    found = _diagnose(tmp_path, endpoint, "backups", ("a", "b"))
    assert found["evidence"]["reason"] == "connection-refused", found
    assert found["elapsed"] < 30


def test_a_server_that_never_answers_is_a_timeout_within_the_bound(tmp_path: Path) -> None:
    with socket.socket() as silent:  # accepts connections (the kernel's backlog), never reads or answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        port = silent.getsockname()[1]
        found = _diagnose(tmp_path, f"http://127.0.0.1:{port}", "backups", ("a", "b"), timeout="1.5")
    assert found["evidence"]["reason"] == "timeout", found
    assert found["elapsed"] < 30, "LITEFIX_REMOTE_TIMEOUT=1.5 bounds each request and its one retry"


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def test_an_untrusted_certificate_is_tls_and_skip_verify_reads_through_it(tmp_path: Path) -> None:
    """A self-signed endpoint (a MinIO on a LAN): named as TLS trust, and `skip-verify: true` gets through."""
    import shutil
    import ssl
    import subprocess
    import sys
    import urllib.request

    from tests.servers import free_port

    cert, key = _self_signed(tmp_path)
    port = free_port()
    exe = shutil.which("moto_server", path=str(Path(sys.executable).parent))
    assert exe
    with open(tmp_path / "moto.log", "wb") as log:
        proc = subprocess.Popen(
            [exe, "-H", "127.0.0.1", "-p", str(port), "-c", str(cert), "-k", str(key)],
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    try:
        insecure = ssl.create_default_context()
        insecure.check_hostname, insecure.verify_mode = False, ssl.CERT_NONE
        deadline = time.monotonic() + 30
        while True:
            try:
                request = urllib.request.Request(f"https://127.0.0.1:{port}/backups", method="PUT")
                urllib.request.urlopen(request, timeout=5, context=insecure).close()
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "moto.log").read_text()
                time.sleep(0.2)
        endpoint = f"https://127.0.0.1:{port}"
        found = _diagnose(tmp_path, endpoint, "backups", ("a", "b"))
        assert found["evidence"]["reason"] == "tls", found
        db = _write_config(tmp_path, endpoint, "backups", ("a", "b"), "        skip-verify: true\n")
        result, _ = _run(tmp_path, db, "5")
    finally:
        proc.terminate()
        proc.wait(10)
    found_codes = {f["code"] for f in result.json()["findings"]}
    assert "replica-unreachable" not in found_codes and "replica-missing" in found_codes, result.out
