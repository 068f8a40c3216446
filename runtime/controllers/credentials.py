"""Per-controller identities: upstream's --use-service-account-credentials.

With it, each controller writes as its own service account in kube-system (the account
upstream names it by, e.g. `deployment-controller`), which upstream's bootstrap policy
binds to `system:controller:<account>`; the shared informers keep reading with the
manager's own identity, as upstream's do. The manager makes each account if it is
missing and asks TokenRequest for an hour's token, asked for again at 80% of its life.

Controllers whose work in kapi goes beyond their upstream role keep the manager's
identity (ROOT): `serviceaccount` (it also publishes kube-root-ca.crt, upstream's
root-ca-cert-publisher), `serviceaccount-token` (it signs the legacy tokens itself) and
`servicelb` (k3s's, with no upstream role).

It never reads a kubeconfig's credentials: a controller's client has the cluster's CA
and its bearer token only (a client certificate would win over the token).
"""

from __future__ import annotations

import asyncio
import logging

from runtime.client.resources import SERVICEACCOUNTS
from runtime.client.rest import ApiError, Client

log = logging.getLogger(__name__)

NAMESPACE = "kube-system"
TOKEN_SECONDS = 3600
# kapi's controller name -> upstream's service account for it (controller-role-bindings)
ACCOUNTS = {
    "replicaset": "replicaset-controller",
    "replicationcontroller": "replication-controller",
    "deployment": "deployment-controller",
    "statefulset": "statefulset-controller",
    "daemonset": "daemon-set-controller",
    "job": "job-controller",
    "cronjob": "cronjob-controller",
    "disruption": "disruption-controller",
    "garbagecollector": "generic-garbage-collector",
    "namespace": "namespace-controller",
    "nodelifecycle": "node-controller",
    "podgc": "pod-garbage-collector",
    "horizontalpodautoscaling": "horizontal-pod-autoscaler",
    "endpoints": "endpoint-controller",
    "endpointslice": "endpointslice-controller",
    "endpointslicemirroring": "endpointslicemirroring-controller",
    "resourcequota": "resourcequota-controller",
    "clusterrole-aggregation": "clusterrole-aggregation-controller",
}
ROOT = frozenset({"serviceaccount", "serviceaccount-token", "servicelb"})


class ServiceAccountCredentials:
    """Clients for controllers, each as its own service account, kept fresh."""

    def __init__(self, root: Client) -> None:
        self.root = root
        self._clients: dict[str, Client] = {}
        self._refresh: asyncio.Task[None] | None = None

    async def client_for(self, controller: str) -> Client:
        """The controller's client (the manager's own for ROOT ones)."""
        account = ACCOUNTS.get(controller)
        if account is None:
            return self.root
        if account not in self._clients:
            await self._ensure_account(account)
            client = self.root.with_bearer_token(await self._token(account),
                                                 user_agent=f"kapi-controller-manager/{account}")
            self._clients[account] = client
        return self._clients[account]

    def start_refreshing(self) -> None:
        if self._refresh is None and self._clients:
            self._refresh = asyncio.create_task(self._refresh_loop(), name="sa-credentials")

    async def close(self) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
            await asyncio.gather(self._refresh, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in self._clients.values()))
        self._clients.clear()

    # -- inside --------------------------------------------------------------------------
    async def _ensure_account(self, account: str) -> None:
        try:
            await self.root.create(SERVICEACCOUNTS, {"apiVersion": "v1", "kind": "ServiceAccount",
                                                     "metadata": {"name": account}}, NAMESPACE)
        except ApiError as e:
            if not e.already_exists:
                raise

    async def _token(self, account: str) -> str:
        review = await self.root.request(
            "POST", SERVICEACCOUNTS.path(NAMESPACE, account, "token"),
            body={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                  "spec": {"expirationSeconds": TOKEN_SECONDS}})
        return str(review["status"]["token"])

    async def _refresh_loop(self) -> None:
        """Every account's token again once 80% of its life has passed (a failure is
        retried a minute later; the old token still serves until it expires)."""
        wait = TOKEN_SECONDS * 0.8
        while True:
            await asyncio.sleep(wait)
            wait = TOKEN_SECONDS * 0.8
            for account, client in list(self._clients.items()):
                try:
                    client.set_bearer_token(await self._token(account))
                except Exception as e:  # the API unreachable for a moment: retried
                    log.warning("token for %s not renewed: %r", account, e)
                    wait = 60.0
