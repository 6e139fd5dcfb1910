"""Policy's exact-match response cache (docs/policy.md, "Response cache").

Off unless a key's plan has a ``cache`` block and policy has a cache Redis
(``CACHE_REDIS_URL``, separate from the state Redis). A hit is answered here, after the
plan's ``rpm`` is counted, without the router or a provider:

- :mod:`policy.cache.request`: the caller's cache control and the request's key;
- :mod:`policy.cache.entry`: what an entry holds, and which answers may be stored;
- :mod:`policy.cache.replay`: a stored answer as the event stream of its API;
- :mod:`policy.cache.store`: the entries in Redis (``gateway_shared.cache_layout``);
- :mod:`policy.cache.lookup`: one request's way through the cache.
"""
