"""Tests of receiver.replay below the CLI: options, output and errors, and the vendor's samples."""
