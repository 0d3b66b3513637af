"""Tests of receiver.ops: readiness (/readyz), the alerts and the mailer, Redis's persistence check."""
