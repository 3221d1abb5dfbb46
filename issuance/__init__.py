"""sscard: social security card issuance for Beijing's cooperative banks."""

__version__ = "0.1.0"
