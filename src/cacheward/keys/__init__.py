"""API keys: the format, and the stores that verify them."""

from .format import redact as redact
from .sqlite import SQLiteKeyStore as SQLiteKeyStore
from .store import IssuedKey as IssuedKey
from .store import KeyRecord as KeyRecord
from .store import KeyStore as KeyStore
from .store import MemoryKeyStore as MemoryKeyStore
