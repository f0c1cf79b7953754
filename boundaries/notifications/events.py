"""The notifications module publishes no events; it consumes those of users and tweets."""
