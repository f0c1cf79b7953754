"""Contract types shared by every module: ids, the event base, error kinds, pagination."""
