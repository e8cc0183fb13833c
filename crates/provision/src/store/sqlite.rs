//! [`Sql`] over a rusqlite connection (or a transaction on one: it derefs to the connection).
//! Statements are prepared once per connection (`prepare_cached`).

use super::{Dialect, Row, Sql, StoreError, Value, ValueRef};
use rusqlite::{Connection, params_from_iter};

/// An SQLite connection as [`Sql`].
pub struct Lite<'c>(pub &'c Connection);

struct LiteRow<'a, 'b>(&'a rusqlite::Row<'b>);

impl Row for LiteRow<'_, '_> {
    fn get(&self, i: usize) -> ValueRef<'_> {
        self.0.get_ref(i).unwrap_or(ValueRef::Null)
    }
}

impl Sql for Lite<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, StoreError> {
        Ok(self.0.prepare_cached(sql)?.execute(params_from_iter(params))? as u64)
    }

    fn each(&mut self, sql: &str, params: &[Value], f: &mut dyn FnMut(&dyn Row) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let mut st = self.0.prepare_cached(sql)?;
        let mut rows = st.query(params_from_iter(params))?;
        while let Some(r) = rows.next()? {
            f(&LiteRow(r))?;
        }
        Ok(())
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.0.execute_batch(sql)?)
    }
}
