"""One scheduler plugin per module, each small and pure (see runtime/scheduler/framework.py).

The default set and its order live in runtime/scheduler/profile.py, chosen by name from
an explicit table; nothing registers itself on import.
"""
