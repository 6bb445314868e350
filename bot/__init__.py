"""Front ends over the engine in ``index/``: the console CLI and the Discord bot."""
