"""Notifications: alarms and notable events to people, by SMS, e-mail and webhook
(docs/notifications.md)."""
