"""The sandbox: a loopback Bot API emulator, Telegram's HTML checker and the terminal chat."""
