"""The ``healthcode`` command line (thin: parse, call :class:`healthcode.service.HealthCode`, print)."""
