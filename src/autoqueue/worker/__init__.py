"""A worker: its round (`tick`), how it starts (`start`), the leader's lease, recovery."""
