"""``python -m edge``: serve edge with the settings from the environment."""

from edge.settings import EdgeSettings
from gateway_shared.tier.server import serve_tier
from gateway_shared.tier.settings import load

serve_tier("edge.app:create_app", load(EdgeSettings))
