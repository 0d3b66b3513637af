"""Tests of receiver.forwarder: from the captures files to RQ, exactly once, across outages and cuts."""
