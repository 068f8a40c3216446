"""A container's securityContext (merged over its pod's) as engine settings: user and
groups, runAsNonRoot against the image's user, read-only root, capabilities, privileged
and no-new-privileges. Pure: the image's USER arrives as an argument. A container that
must not run raises ConfigError with upstream's message (CreateContainerConfigError).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from runtime.kubelet.envsources import ConfigError

Obj = dict[str, Any]


@dataclass(frozen=True)
class Settings:
    """What the engine applies of a container's securityContext."""
    user: str = ""                                        # "uid[:gid]"
    group_add: list[str] = field(default_factory=list)
    read_only_rootfs: bool = False
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    no_new_privileges: bool = False


def effective(pod: Obj, container: Obj) -> Obj:
    """The container's securityContext over the pod's (the fields both may carry)."""
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    merged = {k: pod_sc[k] for k in ("runAsUser", "runAsGroup", "runAsNonRoot")
              if k in pod_sc}
    return merged | (container.get("securityContext") or {})


def _image_uid(image_user: str) -> tuple[int | None, str]:
    """(numeric uid, or None with the user name) of an image's USER; "" is root."""
    user = image_user.split(":", 1)[0]
    if not user:
        return 0, ""
    return (int(user), "") if user.isdigit() else (None, user)


def check_non_root(pod_ref: str, container: Obj, sc: Obj, image_user: str) -> None:
    if not sc.get("runAsNonRoot"):
        return
    name = container.get("name", "")
    where = f'(pod: "{pod_ref}", container: {name})'
    if sc.get("runAsUser") is not None:
        if int(sc["runAsUser"]) == 0:
            raise ConfigError(f"container's runAsUser breaks non-root policy {where}")
        return
    uid, username = _image_uid(image_user)
    if uid == 0:
        raise ConfigError(f"container has runAsNonRoot and image will run as root {where}")
    if uid is None:
        raise ConfigError(f"container has runAsNonRoot and image has non-numeric user "
                          f"({username}), cannot verify user is non-root {where}")


def settings(pod: Obj, container: Obj, *, pod_ref: str, image_user: str) -> Settings:
    sc = effective(pod, container)
    check_non_root(pod_ref, container, sc, image_user)
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    user = ""
    if sc.get("runAsUser") is not None:
        user = str(sc["runAsUser"])
        if sc.get("runAsGroup") is not None:
            user += f":{sc['runAsGroup']}"
    elif sc.get("runAsGroup") is not None:  # the image's user with another group
        uid, name = _image_uid(image_user)
        user = f"{name if uid is None else uid}:{sc['runAsGroup']}"
    groups = [str(g) for g in pod_sc.get("supplementalGroups") or []]
    if pod_sc.get("fsGroup") is not None:
        groups.append(str(pod_sc["fsGroup"]))
    caps = sc.get("capabilities") or {}
    privileged = bool(sc.get("privileged"))
    return Settings(
        user=user, group_add=groups, privileged=privileged,
        read_only_rootfs=bool(sc.get("readOnlyRootFilesystem")),
        cap_add=[str(c) for c in caps.get("add") or []],
        cap_drop=[str(c) for c in caps.get("drop") or []],
        no_new_privileges=sc.get("allowPrivilegeEscalation") is False and not privileged)
