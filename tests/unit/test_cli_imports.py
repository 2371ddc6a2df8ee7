"""`pizzeria --help` stays quick: the command line imports neither the broker's nor the
database's libraries until a command needs them."""

from __future__ import annotations

import subprocess
import sys


def test_the_command_line_imports_no_broker_or_database_library_to_show_its_help():
    code = ("import sys; from pizzeria.cli import main; "
            "print(sorted({name.split('.')[0] for name in sys.modules} & {'kombu', 'sqlalchemy', 'psycopg'}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
