"""Email notifications: subscriptions to event types, and the outbox sent over SMTP."""
