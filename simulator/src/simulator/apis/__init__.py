"""The non-OpenAI-chat APIs recent vLLM serves: Responses and Messages."""
