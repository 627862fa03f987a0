"""Settings both architectures share: TLS costs."""

from __future__ import annotations

from typing import Literal

from sim.scenario.base import Strict, cited
from sim.scenario.units import Duration, Size


class Tls(Strict):
    """TLS on a connection: round trips by version, CPU on both ends, memory per side."""

    version: Literal["none", "1.2", "1.3"] = cited("1.3", "RFC 8446 (TLS 1.3: +1 RTT)")
    """TLS version on the connection: 'none' (plain TCP), '1.2' (2 extra round trips) or '1.3' (1 extra round trip)."""
    mutual: bool = cited(True, "Istio mTLS / NATS TLS with verify: both sides authenticate")
    """Both sides present and verify a certificate (mTLS); false: only the server does."""
    server_cpu: Duration = cited(
        0.12e-3, "measured: OpenSSL 3.0 speed, full handshake ECDSA P-256, one core", ge=0
    )
    """CPU seconds the server spends on one full handshake."""
    client_cpu: Duration = cited(0.085e-3, "measured: one P-256 certificate verify", ge=0)
    """CPU seconds the client spends on one full handshake (verifying the server's certificate)."""
    mutual_cpu: Duration = cited(
        0.085e-3, "measured: extra certificate verify for mTLS (P-256)", ge=0
    )
    """Extra CPU seconds on each side for the client certificate when the TLS is mutual."""
    memory_per_connection: Size = cited(
        10 * 1024, "imperialviolet.org 'Overclocking SSL': <10 KB per TLS connection", ge=0
    )
    """Bytes of TLS state each side keeps per open connection."""
