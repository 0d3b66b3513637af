"""Worker-side processing of captured Smartech webhooks: decode, normalise, write events or rejects."""
