"""The `docwatch` command: the click group (main), what every command shares (app), and one
module per command group."""
