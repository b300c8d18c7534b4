"""Certificates made for a test run (the `cryptography` package): a CA, and server certificates it signs for the
names a test chooses, as PEM files in a directory, with the SSL contexts that serve them and that trust the CA.

    authority = CertificateAuthority.create(tmp_path)
    served = authority.issue(tmp_path, "hooks.example.test")       # a receiver serves `served.server_context()`
    client = authority.client_context()                           # and a client that trusts the CA verifies it
"""

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["CertificateAuthority", "ServerCertificate", "TestCertificates"]


@dataclass(frozen=True, slots=True)
class ServerCertificate:
    """A server's certificate and key, as PEM files."""

    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """A CA made for the test: its certificate in `ca_file`, its key kept to sign server certificates."""

    ca_file: Path
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @classmethod
    def create(cls, directory: Path, name: str = "Test CA") -> "CertificateAuthority":
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        certificate = (
            _builder(subject, subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_usage(cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        ca_file = directory / "ca.pem"
        ca_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return cls(ca_file, key, certificate)

    def issue(self, directory: Path, *names: str) -> ServerCertificate:
        """A server certificate for `names` (host names or IP addresses; the first is its common name), signed by
        this CA, written to `<first name>.pem` and `<first name>.key` in `directory`."""
        key = ec.generate_private_key(ec.SECP256R1())
        identifier = self.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
        certificate = (
            _builder(subject, self.certificate.subject, key.public_key())
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName([_general_name(name) for name in names]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(identifier), False)
            .sign(self.key, hashes.SHA256())
        )
        issued = ServerCertificate(directory / f"{names[0]}.pem", directory / f"{names[0]}.key")
        issued.cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        issued.key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        return issued

    def client_context(self) -> ssl.SSLContext:
        """A client's context that trusts this CA (only), verifying certificates and host names as by default."""
        return ssl.create_default_context(cafile=self.ca_file)


@dataclass(frozen=True, slots=True)
class TestCertificates:
    """A CA made for the test, and the server's certificate (for 127.0.0.1 and localhost) that it signed."""

    ca_file: Path
    cert_file: Path
    key_file: Path

    @classmethod
    def create(cls, directory: Path) -> "TestCertificates":
        authority = CertificateAuthority.create(directory)
        server = authority.issue(directory, "localhost", "127.0.0.1")
        return cls(authority.ca_file, server.cert_file, server.key_file)

    def server_context(self) -> ssl.SSLContext:
        return ServerCertificate(self.cert_file, self.key_file).server_context()


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _builder(subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def _usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
