from litefix.cli import main

main()
