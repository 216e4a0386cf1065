"""The database: the engine and sessions (``engine``), the declarative base and column types
(``types``), and the SQL kit the hot paths share: bulk statements (``bulk``), id allocation
(``ids``), advisory locks (``locks``) and arrays per dialect (``sqlarray``)."""

from vigil.db.engine import Database
from vigil.db.types import Base, BigId, JSONType, UTCDateTime

__all__ = ["Base", "BigId", "Database", "JSONType", "UTCDateTime"]
