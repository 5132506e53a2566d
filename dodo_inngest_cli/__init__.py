"""dodo-inngest: test, check, send and replay Dodo Payments webhook transformations for Inngest."""

__version__ = "0.1.0"
