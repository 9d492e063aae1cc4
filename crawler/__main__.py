from crawler.cli.main import main

main()
