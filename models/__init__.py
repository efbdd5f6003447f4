"""SQLAlchemy models and the domain rules on them."""

from models.base import Base, db, utcnow
from models.system import JobProbe, Merchant

__all__ = ["Base", "JobProbe", "Merchant", "db", "utcnow"]
