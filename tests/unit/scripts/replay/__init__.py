"""Tests of the replay command through click's CliRunner: to a receiver served in this process, or onto RQ."""
