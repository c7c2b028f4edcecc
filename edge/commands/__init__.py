"""One module per `sign2sound` subcommand: HELP, add_arguments(parser), main(args) -> int."""
