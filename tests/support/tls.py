"""Test certificates made with ``trustme``: a CA per server, and CAs that signed nothing.

A client trusts a server by loading ``ca_pem_path`` into an :class:`ssl.SSLContext`
(see :func:`client_context`). The "wrong certificate" cases are built from the same pieces:

* :func:`untrusted_ca_pem` writes a CA that signed nothing, so a client that trusts only it must
  refuse the server's certificate (``CERTIFICATE_VERIFY_FAILED``);
* ``DovecotServer(tls_hostnames=("imap.elsewhere.test",))`` serves a certificate, signed by its
  own ``ca_pem_path``, for a name the client does not connect to (a host name mismatch).
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from pathlib import Path

import trustme

DEFAULT_HOSTNAMES = ("127.0.0.1", "localhost")


def new_ca() -> trustme.CA:
    """A fresh test certificate authority (ECDSA keys: fast to make)."""
    return trustme.CA(organization_name="Postroom test CA")


def write_ca_pem(ca: trustme.CA, path: Path) -> Path:
    """Write the CA certificate (what a client loads to trust the server) to ``path``."""
    ca.cert_pem.write_to_path(str(path))
    path.chmod(0o644)
    return path


def issue_server_cert(
    ca: trustme.CA, folder: Path, hostnames: Sequence[str] = DEFAULT_HOSTNAMES
) -> tuple[Path, Path]:
    """Issue a server certificate for ``hostnames``; return ``(chain_path, key_path)`` PEM files."""
    cert = ca.issue_cert(*hostnames)
    chain = folder / "server-chain.pem"
    key = folder / "server-key.pem"
    chain.write_bytes(b"".join(blob.bytes() for blob in cert.cert_chain_pems))
    cert.private_key_pem.write_to_path(str(key))
    key.chmod(0o600)
    return chain, key


def untrusted_ca_pem(folder: Path) -> Path:
    """The certificate of a brand-new CA that signed no server: trusting only it must fail."""
    return write_ca_pem(new_ca(), folder / "untrusted-ca.pem")


def client_context(ca_pem_path: Path | str) -> ssl.SSLContext:
    """A verifying client context (hostname check on) that trusts only ``ca_pem_path``."""
    return ssl.create_default_context(cafile=str(ca_pem_path))
