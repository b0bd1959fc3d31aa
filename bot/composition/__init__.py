"""The composition root: the only code in bot/ that imports handlers/ or scheduler/.

The app factory (``app``), the CLI (``cli``), the server (``serve``), the demo,
the smoke check and the OpenAPI generation (``openapi``) assemble the layers below.
"""
