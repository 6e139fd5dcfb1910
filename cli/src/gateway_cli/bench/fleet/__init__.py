"""``gateway bench --fleet``: balancing policies compared on a simulated (or real) vLLM
fleet under an open-loop, multi-tenant, multi-turn workload (docs/benchmarks-fleet.md)."""
