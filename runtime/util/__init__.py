"""Pure helpers every component shares (controllers, scheduler, kubelets): times, label
and node selectors, tolerations, int-or-percent values, object metadata and pod
predicates. Nothing here does I/O, reads a clock other than through `clock.Clock`, or
imports kapi/.
"""
