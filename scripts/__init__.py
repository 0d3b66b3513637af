"""The ``smartech-dumper`` command line: click commands over the library, grouped by concern."""
