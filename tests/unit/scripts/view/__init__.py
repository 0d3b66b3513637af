"""Tests of tail, show, list and stats: what they print, and that they escape what a payload holds."""
