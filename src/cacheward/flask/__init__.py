"""The Flask extension: API-key authentication and a response cache that cannot be poisoned."""
