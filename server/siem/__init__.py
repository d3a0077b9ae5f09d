"""Security events for a SIEM: syslog over TLS (CEF, JSON or ECS payloads) and ECS JSON lines,
from a persisted outbox with at-least-once delivery."""
