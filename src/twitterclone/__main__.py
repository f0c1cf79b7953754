from twitterclone.cli import main

main()
