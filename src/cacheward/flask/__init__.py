"""The guard: the Flask extension."""

from .extension import Cacheward as Cacheward
from .principal import current_principal as current_principal
