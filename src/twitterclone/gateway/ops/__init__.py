"""The operations view (/ops): the deployment at work, read from what it already knows."""
