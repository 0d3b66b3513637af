"""Read what the receiver stored: day files, filters, time expressions, selections and views of captures.

The library below the CLI, the worker and the web inspector: nothing here
imports click or prints; errors are plain exceptions and warnings go to a
``warn`` callback the caller passes.
"""
