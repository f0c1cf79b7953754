"""One Litestar Controller per route group; handlers translate HTTP to port calls and back."""
