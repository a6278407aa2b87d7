"""A throw-away certificate authority for serving HTTPS in tests.

Some consumers refuse ``http`` issuers (okta-jwt-verifier), so the provider can serve HTTPS with
a certificate from a CA made at start-up. The CA's certificate is written to a file that
consumers trust explicitly (``verify=idp.ca_bundle``); nothing is added to any system store, and
the CA key never leaves the process.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import tempfile
from dataclasses import dataclass

__all__ = ["TestAuthority"]

_VALIDITY = datetime.timedelta(days=30)


@dataclass(frozen=True)
class _Issued:
    certificate_pem: bytes
    key_pem: bytes


class TestAuthority:
    """A CA (EC P-256, quick to make) and the server certificate it issues for loopback."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, hosts: tuple[str, ...] = ("127.0.0.1", "::1", "localhost")) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        now = datetime.datetime.now(datetime.timezone.utc)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mockidp test CA")])
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name).issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                           critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        names: list[x509.GeneralName] = []
        for host in dict.fromkeys(hosts):
            try:
                names.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                names.append(x509.DNSName(host))
        key = ec.generate_private_key(ec.SECP256R1())
        leaf = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + _VALIDITY)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        pem = serialization.Encoding.PEM
        self.ca_pem = ca.public_bytes(pem)
        self._server = _Issued(
            leaf.public_bytes(pem),
            key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()),
        )

    def server_context(self) -> ssl.SSLContext:
        """The server side: the loopback certificate and its key."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        # ssl loads certificates from files only; these live just long enough to be read.
        with tempfile.TemporaryDirectory(prefix="mockidp-tls-") as folder:
            cert, key = os.path.join(folder, "cert.pem"), os.path.join(folder, "key.pem")
            with open(cert, "wb") as out:
                out.write(self._server.certificate_pem)
            with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as out:
                out.write(self._server.key_pem)
            context.load_cert_chain(cert, key)
        return context


    def write_bundle(self) -> str:
        """The CA certificate in a file, for ``verify=`` / ``SSL_CERT_FILE``; the caller
        removes it."""
        fd, path = tempfile.mkstemp(prefix="mockidp-ca-", suffix=".pem")
        with os.fdopen(fd, "wb") as out:
            out.write(self.ca_pem)
        return path
