"""analytics: the inbox indexed by age, for the kernel's purge of applied inbox rows.

Revision ID: 0002_analytics_inbox_age
Revises: 0001_analytics_initial
Create Date: 2026-12-04 00:00:00
"""

from twitterclone.migrate import inbox_age_index

revision = "0002_analytics_inbox_age"
down_revision = "0001_analytics_initial"
branch_labels = None
depends_on = None

upgrade, downgrade = inbox_age_index()
