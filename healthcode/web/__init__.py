"""The web application (holder, verifier and admin pages; ``POST /verify``).

Build it with :func:`healthcode.web.app.create_app`.
"""
