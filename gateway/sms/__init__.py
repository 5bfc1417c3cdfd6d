"""SMS: how a text is encoded and counted, how keywords and commands are read, and the SMS host."""
