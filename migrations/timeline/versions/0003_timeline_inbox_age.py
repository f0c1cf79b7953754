"""timeline: the inbox indexed by age, for the kernel's purge of applied inbox rows.

Revision ID: 0003_timeline_inbox_age
Revises: timeline_0002_popular
Create Date: 2026-12-04 00:00:00
"""

from twitterclone.migrate import inbox_age_index

revision = "0003_timeline_inbox_age"
down_revision = "timeline_0002_popular"
branch_labels = None
depends_on = None

upgrade, downgrade = inbox_age_index()
