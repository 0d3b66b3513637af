"""Tests of the command line (scripts/) through click's CliRunner, in-process."""
