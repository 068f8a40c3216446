"""Pure cores of the workload controllers (StatefulSet, DaemonSet, Job, CronJob).

Everything here is a plain function over dicts (or a tiny in-memory helper such as
expectations): no HTTP, no informers, no clock reads. The shells in
runtime/controllers/{statefulset,daemonset,job,cronjob}.py do the I/O.
"""
