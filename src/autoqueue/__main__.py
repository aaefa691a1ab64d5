from autoqueue.entry import main

main()
