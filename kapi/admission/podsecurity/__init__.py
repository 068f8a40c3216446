"""Pod Security admission (upstream's pod-security-admission): the baseline and
restricted Pod Security Standards, chosen per namespace by its
pod-security.kubernetes.io/ labels. checks.py holds the standards, plugin.py the
admission step."""
