"""One stage attempt: its folder, its supervisor, its program and the processes it starts."""
