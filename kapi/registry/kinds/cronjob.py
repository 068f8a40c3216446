"""CronJobs: names of at most 52 characters (the Jobs they create add a suffix), the
schedule and job template rules, generation tracking."""

from __future__ import annotations

from kapi.defaulting import workloads as defaults
from kapi.meta.resources import status_of
from kapi.printers import batch as batch_printers
from kapi.registry.kinds.base import ALL, Strategy, row
from kapi.registry.kinds.job import BATCH
from kapi.validation import meta as meta_rules
from kapi.validation import workloads as rules

CRON_JOBS = Strategy(
    row("batch", "v1", "cronjobs", "CronJob", BATCH, short_names=("cj",), categories=ALL,
        subresources=(status_of("CronJob"),)),
    printer=batch_printers.CRON_JOB, tracks_generation=True, name_rule=meta_rules.cronjob_name,
    defaulter=defaults.cronjob, validate_rule=rules.validate_cronjob,
    status_may_change_meta=True)  # upstream: a /status write keeps only spec from old
