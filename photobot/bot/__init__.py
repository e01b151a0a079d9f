"""The chat side: the platform-neutral service, commands and job pipeline, and one package per platform."""
