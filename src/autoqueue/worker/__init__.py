"""The scheduler round, the leader's lease, recovery, and which host does what."""
