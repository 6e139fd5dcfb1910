"""What vLLM v0.11.0 refuses, and how it says so: the simulator's request validation.

The simulator stands in for ``vllm/vllm-openai:v0.11.0`` in every test, so a request
gets the answer vLLM would give, in vLLM's order:

1. :mod:`~simulator.validation.body`: JSON syntax, ``Content-Type``, an empty body;
2. :mod:`~simulator.validation.requests`: the request model (its model validators, then
   every field's type and range as pydantic's lax mode checks them,
   :mod:`~simulator.validation.lax`);
3. the model name (``parsing.served_model``: 404);
4. :mod:`~simulator.validation.sampling`: the serving code, ``SamplingParams`` and the
   engine's checks.

Answers are built by :mod:`~simulator.validation.errors` in vLLM's envelope (integer
``code``, ``param: null``, vLLM's ``type`` strings and messages). The source of each rule
is vLLM v0.11.0's ``entrypoints/openai/protocol.py``, ``sampling_params.py`` and
``v1/engine/processor.py``; docs/simulator.md lists the rules and what is left out.
"""
