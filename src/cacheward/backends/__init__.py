"""Cache stores: in memory (default), Redis and Redis Cluster."""

from .base import Backend as Backend
from .base import Lookup as Lookup
from .memory import MemoryBackend as MemoryBackend
from .url import backend_from_url as backend_from_url
