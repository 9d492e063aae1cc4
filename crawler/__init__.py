"""docwatch: watch state publications for labor-transfer evidence, archive and diff them."""

__version__ = "0.2.0"
