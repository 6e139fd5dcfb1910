"""``gateway bench``: the gateway against its own floor, measured with k6 on pinned cores.

Modules: ``command`` (the CLI and the run's order), ``systems`` (what is measured: the
simulator alone, the floor hops, the gateway), ``floor`` (the bare forwarding hop),
``pinning`` (cores), ``k6run`` (running k6 and reading its summary), ``sampling`` (CPU
and memory of each process), ``soak`` (memory over a long run), ``profiling`` (where the
tiers spend their time) and ``report`` (docs/benchmarks.md).
"""
