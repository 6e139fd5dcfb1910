"""``python -m policy``: serve policy with the settings from the environment."""

from gateway_shared.tier.server import serve_tier
from gateway_shared.tier.settings import load
from policy.settings import PolicySettings

serve_tier("policy.app:create_app", load(PolicySettings))
