"""What every controller is built from: the ControllerContext (API client, shared
informers, event recorder, the one clock) and ControllerOptions, the controller
manager's settings as one frozen, validated object.

Options are checked once, when they are made; controllers read typed attributes and
never look settings up by string.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from runtime.client.events import EventRecorder
from runtime.client.informer import InformerFactory
from runtime.client.rest import Client
from runtime.util.clock import system_clock


@dataclass(frozen=True)
class ControllerOptions:
    # which controllers run: upstream's --controllers ("*" all on by default, "name" on,
    # "-name" off); resolved against the manager's table
    controllers: tuple[str, ...] = ("*",)
    # node lifecycle: heartbeats and taint-based eviction
    node_monitor_grace_period: float = 40.0
    node_startup_grace_period: float | None = None  # None: max(60 s, the monitor grace)
    pod_eviction_timeout: float = 300.0
    # pod GC: how long a node must be gone before its pods are force-deleted
    podgc_quarantine: float = 40.0
    # garbage collector
    gc_rediscover_period: float = 30.0
    gc_foreground_recheck: float = 5.0
    # Job pod-failure back-off
    job_backoff_seconds: float = 10.0
    job_backoff_max_seconds: float = 600.0
    # pods a ReplicaSet creates or deletes per sync at most (upstream's BurstReplicas)
    replicaset_burst_replicas: int = 500
    # workers per controller
    cronjob_workers: int = 2
    daemonset_workers: int = 2
    job_workers: int = 4
    statefulset_workers: int = 4
    disruption_workers: int = 2
    # horizontal pod autoscaler (upstream's --horizontal-pod-autoscaler-* flags)
    hpa_sync_period: float = 15.0
    hpa_downscale_stabilization: float = 300.0
    hpa_tolerance: float = 0.1
    hpa_cpu_initialization_period: float = 300.0
    hpa_initial_readiness_delay: float = 30.0
    hpa_workers: int = 5  # upstream's --concurrent-horizontal-pod-autoscaler-syncs
    # upstream's --root-ca-file: the CA published in every namespace's kube-root-ca.crt
    # ("": the cluster's kapi-root-ca Secret, runtime/controllers/serviceaccount/rootca.py)
    root_ca_file: str = ""
    endpoints_workers: int = 4  # each of endpoints, endpointslice, mirroring
    # the key legacy service-account tokens are signed with (upstream's
    # --service-account-private-key-file); None: the token controller does nothing
    service_account_private_key_file: str | None = None
    # the CA the CSR signer issues certificates with (upstream's --cluster-signing-cert-file
    # and --cluster-signing-key-file; "": csrsigning signs nothing) and their lifetime
    cluster_signing_cert_file: str = ""
    cluster_signing_key_file: str = ""
    cluster_signing_duration: float = 365 * 24 * 3600.0
    # upstream's --use-service-account-credentials: each controller writes as its own
    # service account (runtime/controllers/credentials.py)
    use_service_account_credentials: bool = False

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "controllers":
                if isinstance(value, str) or not all(isinstance(v, str) for v in value):
                    raise ValueError("controllers: a list of controller names")
                object.__setattr__(self, "controllers", tuple(value))
            elif f.name in ("root_ca_file", "cluster_signing_cert_file",
                            "cluster_signing_key_file"):
                if not isinstance(value, str):
                    raise ValueError(f"{f.name}: a path, not {value!r}")
            elif f.name == "use_service_account_credentials":
                if not isinstance(value, bool):
                    raise ValueError(f"{f.name}: true or false, not {value!r}")
            elif value is None or f.name == "service_account_private_key_file":
                continue
            elif isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{f.name}: {value!r} is not a number")
            elif f.name.endswith(("_workers", "_replicas")) and (
                    int(value) != value or value < 1):
                raise ValueError(f"{f.name}: must be a whole number of at least 1, not {value}")
            elif value < 0:
                raise ValueError(f"{f.name}: must not be negative, not {value}")
        if self.node_monitor_grace_period <= 0:
            raise ValueError("node_monitor_grace_period: must be positive")
        if self.hpa_sync_period <= 0:
            raise ValueError("hpa_sync_period: must be positive")

    @property
    def startup_grace_period(self) -> float:
        if self.node_startup_grace_period is not None:
            return self.node_startup_grace_period
        return max(60.0, self.node_monitor_grace_period)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> ControllerOptions:
        """Options from a mapping of field names; an unknown name is an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown controller option(s): {', '.join(unknown)}")
        return cls(**values)


@dataclass
class ControllerContext:
    client: Client
    informers: InformerFactory
    recorder: EventRecorder
    clock: Callable[[], dt.datetime] = system_clock
    options: ControllerOptions = field(default_factory=ControllerOptions)
