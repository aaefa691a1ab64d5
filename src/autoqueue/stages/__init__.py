"""Stage handlers: the built-in ``schedule`` stage and the configurable ``command`` handler."""
