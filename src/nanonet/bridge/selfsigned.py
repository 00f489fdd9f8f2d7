"""One self-signed ECDSA P-256 certificate, for the two QUIC listeners.

The node-to-node QUIC bridge (``quic.py``) writes it to PEM files its dialer
pins as a CA; the web host's WebTransport server (``webtransport.py``) hands
its SHA-256 to the tab, which pins that (Chromium takes such a hash only for
a P-256 certificate valid under 14 days). Both build it here, the same way.
"""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any


def self_signed(host: str, common_name: str, days: int,
                backdate: datetime.timedelta) -> tuple[Any, Any]:
    """(certificate, private key) for ``host`` (an IP address or a DNS name),
    valid from ``backdate`` ago (a peer's clock may lag) for ``days`` days."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    try:
        alt: x509.GeneralName = x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        alt = x509.DNSName(host)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - backdate)
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([alt]), critical=False)
            .sign(key, hashes.SHA256()))
    return cert, key
