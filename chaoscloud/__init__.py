"""Compatibility shim for settings files written by the original chaosiq-cloud.

The original extension declared its control as ``module: chaoscloud.controls``
in ``~/.chaostoolkit/settings.yaml``. chaosiq-core ships this tiny package so
such a file keeps working with ``chaos run`` until it is rewritten (``chaos
signin``, ``org``, ``team``, ``enable`` or ``disable`` migrate it). Do not keep
the original ``chaosiq-cloud`` distribution installed beside chaosiq-core: both
provide this package name.
"""
