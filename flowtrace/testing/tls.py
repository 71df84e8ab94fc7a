"""A throwaway self-signed certificate for TLS tests on loopback.

:func:`self_signed_certificate` writes ``cert.pem`` and ``key.pem`` into a directory, for
``localhost`` and ``127.0.0.1``. It uses the ``cryptography`` package when it is
installed and the ``openssl`` command otherwise. A client trusts the certificate by
pointing ``SSL_CERT_FILE`` at ``cert.pem`` (what :func:`trusting` does, for the
duration of a ``with`` block), which is how ``ssl.create_default_context()`` — and so
flowtrace's TLS sockets and :class:`flowtrace.io.HttpClient` — finds its trust store.
"""

from __future__ import annotations

import contextlib
import datetime
import importlib
import ipaddress
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["self_signed_certificate", "trusting"]


def self_signed_certificate(directory: str | os.PathLike[str]) -> tuple[Path, Path]:
    """Write a certificate and its key for ``localhost``/``127.0.0.1`` into
    ``directory``; returns ``(cert.pem, key.pem)``."""
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    cert, key = out / "cert.pem", out / "key.pem"
    try:
        _with_cryptography(cert, key)
    except ImportError:
        _with_openssl(cert, key)
    return cert, key


def _with_cryptography(cert: Path, key: Path) -> None:
    # Imported by name: an optional package, untyped here when it is absent.
    x509: Any = importlib.import_module("cryptography.x509")
    hashes: Any = importlib.import_module("cryptography.hazmat.primitives.hashes")
    serialization: Any = importlib.import_module("cryptography.hazmat.primitives.serialization")
    ec: Any = importlib.import_module("cryptography.hazmat.primitives.asymmetric.ec")
    NameOID: Any = importlib.import_module("cryptography.x509.oid").NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    key.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))


def _with_openssl(cert: Path, key: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError(
            "a self-signed certificate needs the 'cryptography' package or the openssl "
            "command; neither is available"
        )
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
        ],
        check=True,
        capture_output=True,
    )


@contextlib.contextmanager
def trusting(cert: str | os.PathLike[str]) -> Iterator[None]:
    """Within the block, ``SSL_CERT_FILE`` names ``cert`` (restored afterwards)."""
    before = os.environ.get("SSL_CERT_FILE")
    os.environ["SSL_CERT_FILE"] = os.fspath(cert)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = before
