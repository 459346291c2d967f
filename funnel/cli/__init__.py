"""The `funnel` command line: a registry of subcommands (`registry`), the commands, and `main`.
May import every layer below it; nothing imports it."""
