"""OpenAI-compatible stand-in for a vLLM server, with latency and fault injection."""
