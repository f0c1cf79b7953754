"""The analytics module publishes no events; it consumes those of tweets, users and timeline."""
