"""Messaging layer: NATS subject matching and multi-tenant accounts as pure data."""
