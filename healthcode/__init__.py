"""healthcode: an open, auditable, forgery-resistant electronic health pass platform.

Public API is deliberately small; see the sub-packages ``credentials`` (signed
codes and the verification pipeline), ``rules`` (colour rules), and the CLI
``healthcode`` for everything else.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
