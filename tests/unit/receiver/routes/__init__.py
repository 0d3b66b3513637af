"""Tests of receiver.routes: the routes file, its checks and matching, and the routes in force."""
