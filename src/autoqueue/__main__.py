from autoqueue.cli import main

main()
