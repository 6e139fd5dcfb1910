"""What every tier's process is made of: its FastAPI app, settings, server and probes."""
