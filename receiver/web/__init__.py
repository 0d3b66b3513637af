"""The webhook app: check, read, write, answer 200; gunicorn's config and worker class."""
