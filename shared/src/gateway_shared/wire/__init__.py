"""What one tier tells the next: defined, encoded and decoded here, and nowhere else.

Inward, with every request edge forwards (edge → policy → router):

- :mod:`~gateway_shared.wire.identity`: the caller edge vouches for, signed with the
  internal secret, and the :class:`~gateway_shared.wire.identity.RequestSummary` edge
  made when it checked the body (the API spoken, the model asked for, stream or not, the
  prompt estimate, the output tokens asked for), so the inner tiers need not parse the
  body to know them;
- :mod:`~gateway_shared.wire.admission`: what policy decided that the router must apply
  (an output cap the request did not carry).

Outward, with every answer (router → policy → edge), in :mod:`~gateway_shared.wire.report`:
the catalog alias that served it, the time spent on providers, and the tokens used - a
response header on whole answers, a trailer event at the end of a stream.

Header names are in :mod:`~gateway_shared.wire.headers`. Observability reads what
passed (handlers copy it into the request's log context); it carries nothing itself.
"""
