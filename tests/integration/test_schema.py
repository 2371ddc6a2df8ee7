"""The schema on SQLite gets what only SQLite needs (ids never used again, the partial index of
the visits in progress), and a process on PostgreSQL never imports SQLAlchemy's SQLite dialect."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import text


def test_sqlite_tables_never_use_an_id_again_and_index_only_the_visits_in_progress(sqlite_engine):
    with sqlite_engine.connect() as conn:
        ddl = dict(conn.execute(text("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL")).all())
    assert "AUTOINCREMENT" in ddl["outbox"] and "AUTOINCREMENT" in ddl["failed_messages"]
    assert "WHERE status = 'in_progress'" in ddl["one_visit_in_progress_per_table"]


def test_a_process_on_postgresql_never_imports_the_sqlite_dialect(postgres_url):
    code = ("import sys; from pizzeria.bootstrap import bootstrap, create_tables; from pizzeria.config import Settings; "
            "from pathlib import Path; "
            f"app = bootstrap(Settings('memory://', {postgres_url!r}, Path('.'))); create_tables(app.engine); "
            "print(sorted(m for m in sys.modules if 'sqlite' in m))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
