"""``cacheward demo``: an API cached the common way and the same API guarded by cacheward,
scanned side by side on loopback.

.. versionadded:: 0.1
"""
