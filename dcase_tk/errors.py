"""The base of every error a user can fix by changing an input, a file or an option.

Tools print such errors as one message without a traceback (``dcase_tk.cli.run``); anything
else is a bug and keeps its traceback. This module imports nothing, so catching it is cheap.
"""


class UserError(Exception):
    pass
