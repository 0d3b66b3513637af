"""Tests of the receiver library, a folder per room."""
