"""The command line: the typer application (``app``), the read commands' fast path
(``reads``), the renderers and the terminal app. Importing this package imports nothing else:
a read command never loads typer."""
