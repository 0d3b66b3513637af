"""Operate a deployment: readiness, the alert monitor, alert texts, the mailer, the audit, dead letters, tidying."""
