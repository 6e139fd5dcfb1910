"""Helpers the test folders share (importable as ``tests.support.*``): simulated
upstreams and fakes for the router's unit tests, waiting on conditions, load and routing
helpers for the system tests."""
