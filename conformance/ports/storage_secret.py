"""Ports of the conformance tests of test/e2e/common/storage/secrets_volume.go: a Secret as
a volume (default and per-item modes, key-to-path mappings, a non-root reader with
fsGroup, two volumes of one Secret, a same-named Secret in another namespace), optional
Secrets appearing, changing and disappearing, and immutable Secrets. The tests it shares
with the ConfigMap and projected ports are in storage_common."""

from __future__ import annotations

from typing import Any

from conformance.framework import Ctx, conformance
from conformance.ports import storage_common as sc
from conformance.ports.node_common import NON_ROOT_TEST_UID, uid

S = "Secrets › "
NEEDS = ("containers",)
FAMILY = sc.Family(sc.SECRET, projected=False, cname="secret-volume-test",
                   names={"map": "map-"})
FS_GROUP = {"fs_group": 1001, "run_as_user": NON_ROOT_TEST_UID}


def _reg(short: str, fn: Any, needs: tuple[str, ...] = NEEDS) -> None:
    conformance(S + short, basename="secrets", needs=needs)(fn)


_reg("consumable from pods in volume", lambda c: sc.file_test(c, FAMILY))
_reg("consumable with defaultMode set [LinuxOnly]", lambda c: sc.file_test(c, FAMILY, mode=0o400))
_reg("non-root with defaultMode and fsGroup set [LinuxOnly]",
     lambda c: sc.file_test(c, FAMILY, mode=0o440, security=FS_GROUP))
_reg("consumable with mappings", lambda c: sc.file_test(c, FAMILY, mapped=True))
_reg("mappings and Item Mode set [LinuxOnly]",
     lambda c: sc.file_test(c, FAMILY, mapped=True, mode=0o400))
_reg("consumable in multiple volumes in a pod",
     lambda c: sc.multiple_volumes(c, FAMILY, "secret-volume-test", with_mode=True))
_reg("optional updates should be reflected in volume", lambda c: sc.optional_updates(c, FAMILY))
_reg("immutable if `immutable` field is set", lambda c: sc.immutable(c, sc.SECRET), ())


@conformance(S + "mount regardless of a same-named secret in another namespace",
             basename="secrets", needs=NEEDS)
def same_name_other_namespace(c: Ctx) -> None:
    ns2 = c.create_namespace("secret-namespace")
    name = f"secret-test-{uid()}"
    sc.SECRET.create(c, name, {"this_should_not_match_content_of_other_secret":
                               "similarly_this_should_not_match_content_of_other_secret\n"}, ns2)
    sc.file_test(c, FAMILY, name=name)
