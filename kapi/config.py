"""One validated configuration object for the API server; every setting lives here."""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field
from pathlib import Path


def default_data_dir() -> Path:
    xdg = os.environ.get("XDG_DATA_HOME")
    if xdg:
        return Path(xdg) / "kapi"
    return Path.home() / ".kapi"


@dataclass(frozen=True, kw_only=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 6443
    data_dir: Path = field(default_factory=default_data_dir)
    storage: str = "sqlite"  # one of kapi.storage's backends: sqlite, memory, etcd
    # --storage etcd: the members' client URLs, the key root, and TLS client files
    etcd_servers: tuple[str, ...] = ("http://127.0.0.1:2379",)
    etcd_prefix: str = "/registry"
    etcd_cafile: str | None = None
    etcd_certfile: str | None = None
    etcd_keyfile: str | None = None
    watch_cache_capacity: int = 100_000  # events kept for watches resuming from the past
    watch_cache_bytes: int = 256 * 1024 * 1024  # ... and at most this much memory for them
    compact_interval: float = 60.0  # seconds between compactions
    compact_keep: int = 10_000  # revisions kept behind the newest at each compaction
    compact_keep_seconds: float = 300.0  # ... and at least this much recent history
    metric_resolution: float = 15.0  # seconds between scrapes of the kubelets' usage
    service_cidr: str = "10.96.0.0/12"  # ClusterIPs; `kubernetes` at .1, kube-dns at .10
    service_node_port_range: tuple[int, int] = (30000, 32767)
    # tolerationSeconds of the not-ready/unreachable tolerations every new pod gets
    # (upstream's DefaultTolerationSeconds admission; `kapi up` uses --pod-eviction-timeout)
    default_toleration_seconds: int = 300
    # service-account tokens (kapi/auth/satokens.py): the signing key (default: sa.key in
    # the data dir, generated once), more public keys that verify, the issuers (the first
    # signs), the audiences the API server accepts (default: the issuers), the longest
    # TokenRequest (0: no cap), and the kubelet's 3607 s tokens extended to a year
    service_account_signing_key_file: Path | None = None
    service_account_key_files: tuple[Path, ...] = ()
    service_account_issuers: tuple[str, ...] = ("https://kubernetes.default.svc.cluster.local",)
    api_audiences: tuple[str, ...] = ()
    service_account_max_token_expiration: int = 0
    service_account_extend_token_expiration: bool = True
    # admission plugins switched off (--disable-admission-plugins), e.g. ServiceAccount
    # for an API server without a controller manager to make default service accounts
    disable_admission_plugins: tuple[str, ...] = ()
    validation: bool = True  # schema checks, defaulting and validation; off only to bench
    managed_fields: bool = True  # metadata.managedFields bookkeeping; off only to bench
    # Secrets at rest: an EncryptionConfiguration file, or --encrypt-secrets (a key made
    # in the data dir); audit: where Event lines go and the Policy file (off when None)
    encryption_provider_config: Path | None = None
    encrypt_secrets: bool = False
    audit_log_path: Path | None = None
    audit_policy_file: Path | None = None
    admission_control_config_file: Path | None = None  # PodSecurity's defaults, exemptions
    # --authorization-mode (upstream's values) and --token-auth-file (kapi.auth)
    authorization_modes: tuple[str, ...] = ("Node", "RBAC")
    token_auth_file: Path | None = None
    # HTTPS with client certificates (default), or today's plain HTTP where every caller
    # without a credential is the cluster admin (--insecure-http)
    insecure_http: bool = False
    # upstream's --tls-cert-file, --tls-private-key-file, --client-ca-file; None: the
    # data dir's own (pki/apiserver.crt, pki/ca.crt, made on first start)
    tls_cert_file: Path | None = None
    tls_private_key_file: Path | None = None
    client_ca_file: Path | None = None

    def __post_init__(self) -> None:
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is out of range")
        if self.storage not in ("sqlite", "memory", "etcd"):
            raise ValueError(f"unknown storage backend {self.storage!r} (sqlite, memory, etcd)")
        if not self.etcd_prefix.startswith("/"):
            raise ValueError(f"--etcd-prefix {self.etcd_prefix!r} must start with /")
        if bool(self.etcd_certfile) != bool(self.etcd_keyfile):
            raise ValueError("--etcd-certfile and --etcd-keyfile go together")
        if self.compact_interval <= 0 or self.compact_keep < 0 or self.compact_keep_seconds < 0:
            raise ValueError("compaction settings must be positive")
        if self.metric_resolution <= 0:
            raise ValueError("--metric-resolution must be positive")
        _check_service_ranges(self.service_cidr, self.service_node_port_range)
        unknown = set(self.authorization_modes) - {"AlwaysAllow", "AlwaysDeny", "Node", "RBAC"}
        if unknown or not self.authorization_modes:
            raise ValueError(f"--authorization-mode: unknown mode(s) {sorted(unknown)} "
                             "(kapi serves AlwaysAllow, AlwaysDeny, Node, RBAC)")
        _check_service_accounts(self)
        if bool(self.tls_cert_file) != bool(self.tls_private_key_file):
            raise ValueError("--tls-cert-file and --tls-private-key-file go together")
        if self.watch_cache_capacity < 100:
            raise ValueError("watch_cache_capacity must be at least 100")
        if self.watch_cache_bytes < 1024 * 1024:
            raise ValueError("watch_cache_bytes must be at least 1 MiB")

    @property
    def server_url(self) -> str:
        """The URL clients use: a wildcard bind is reached on loopback, and an IPv6
        address goes in brackets."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}.get(self.host, self.host)
        scheme = "http" if self.insecure_http else "https"
        return f"{scheme}://[{host}]:{self.port}" if ":" in host else \
            f"{scheme}://{host}:{self.port}"

    @property
    def pki_dir(self) -> Path:
        """The cluster CA and the certificates it signed (kapi/auth/pki.py)."""
        return self.data_dir / "pki"

    @property
    def kubeconfig_path(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def audiences(self) -> tuple[str, ...]:
        return self.api_audiences or self.service_account_issuers


ADMISSION_PLUGINS_OFF = ("ServiceAccount",)  # the plugins --disable-admission-plugins knows


def _check_service_accounts(c: Config) -> None:
    if not c.service_account_issuers or not all(c.service_account_issuers):
        raise ValueError("--service-account-issuer may not be empty")
    m = c.service_account_max_token_expiration
    if m and not 3600 <= m <= 1 << 32:
        raise ValueError("the service-account-max-token-expiration must be between 1 hour "
                         "and 2^32 seconds")
    unknown = set(c.disable_admission_plugins) - set(ADMISSION_PLUGINS_OFF)
    if unknown:
        raise ValueError(f"--disable-admission-plugins: unknown plugin(s) {sorted(unknown)} "
                         f"(known: {', '.join(ADMISSION_PLUGINS_OFF)})")


def _check_service_ranges(cidr: str, node_ports: tuple[int, int]) -> None:
    try:
        net = ipaddress.ip_network(cidr)
    except ValueError:
        raise ValueError(f"service CIDR {cidr!r} is not a network such as 10.96.0.0/12") \
            from None
    if net.version != 4 or net.num_addresses < 16:
        raise ValueError(f"service CIDR {cidr}: an IPv4 network of at least 16 addresses")
    low, high = node_ports
    if not 0 < low <= high < 65536:
        raise ValueError(f"node port range {low}-{high} is not a range of ports")
