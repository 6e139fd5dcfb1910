"""Routing: choosing deployments, failing over, retrying, circuit breakers, health
checks and catalog reloads. docs/router.md describes the behaviour."""
