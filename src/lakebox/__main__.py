from lakebox.cli import main

main()
