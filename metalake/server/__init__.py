"""The MetaLake server: an ASGI app over one Lake (see `app.create_app`)."""
