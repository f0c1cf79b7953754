from twitterclone.migrate import run_migrations_in_env

run_migrations_in_env()
