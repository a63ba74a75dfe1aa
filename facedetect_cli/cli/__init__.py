"""The command line: the click entry point, one thin module per command (commands/), the
options they share, the runner (exit codes, one-line errors) and rendering (rich live, plain,
JSON). The top layer: it may import every other part; none imports it."""
