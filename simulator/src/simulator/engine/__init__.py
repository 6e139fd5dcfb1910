"""A vLLM-like engine model: continuous batching, a paged KV cache with prefix caching."""
