"""In-process tests: the library, the jobs and the CLI through click's CliRunner; no gunicorn, worker or browser."""
