"""The routes file and what routing recorded: read, validated, kept in force; where a capture went."""
