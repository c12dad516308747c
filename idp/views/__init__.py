"""Blueprints: one per module. Views orchestrate; services decide."""
