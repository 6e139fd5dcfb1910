"""What the router observes beyond the shared request metrics: every provider call (a
wrapper around the adapter interface, with its metrics, spans and GenAI conversion in
modules of their own), the routing state at scrape time, and HTTP client spans."""
