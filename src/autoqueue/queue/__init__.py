"""The queue's transitions: every change of an item and of a schedule, and its pure policy."""
