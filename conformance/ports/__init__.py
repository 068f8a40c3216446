"""The ported tests, one module per upstream file; importing this package registers them."""

from conformance.ports import (  # noqa: F401
    apimachinery_chunking,
    apimachinery_discovery,
    apimachinery_gc,
    apimachinery_misc,
    apimachinery_namespace,
    apimachinery_watch,
    apps_batch,
    apps_daemonset,
    apps_deployment,
    apps_replicaset,
    apps_statefulset,
    node_objects,
    node_env,
    node_init,
    node_pods,
    node_probe,
    node_runtime,
    storage_configmap,
    storage_emptydir,
    storage_secret,
)
