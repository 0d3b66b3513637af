"""Tests of receiver.core: settings, the allowlist and basic auth."""
