"""What a user does to tasks: add, edit, pause, resume, retry, stop, delete, clean up."""
