//! One statement, two engines: the small layer the table families write their SQL to.
//!
//! Every statement is written once, in the SQL both engines take (`?1`-style parameters,
//! `ON CONFLICT … DO NOTHING`, `COUNT(*) FILTER (WHERE …)`, `CAST`, `RETURNING`), and
//! [`Db`] runs it on SQLite or on PostgreSQL. For PostgreSQL the text is translated once
//! per connection and statement ([`pg_text`]): `?N` becomes `$N`, and SQLite's
//! `INDEXED BY <index>` hints are dropped (PostgreSQL's planner chooses for itself).
//! Values cross as four kinds ([`Value`]: integers, text, bytes, null): every integer
//! column is `BIGINT` in PostgreSQL and every flag an integer 0/1 in both, so a row
//! reads the same whichever engine wrote it ([`RowRef`]).

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::{IsNull, ToSql, Type, to_sql_checked};

use crate::error::{Error, Result};

/// Which engine a statement runs on (for the few statements that differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// A connection in a read or a transaction.
#[derive(Clone, Copy)]
pub(super) enum Db<'c> {
    Sqlite(&'c rusqlite::Connection),
    Postgres(&'c RefCell<PgSession>),
}

/// A PostgreSQL connection and its prepared statements, by their SQLite-style text.
pub struct PgSession {
    pub(super) client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

impl PgSession {
    pub(super) fn new(client: postgres::Client) -> PgSession {
        PgSession {
            client,
            statements: HashMap::new(),
        }
    }

    fn statement(&mut self, sql: &str) -> Result<postgres::Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(&pg_text(sql))?;
        self.statements.insert(sql.to_owned(), s.clone());
        Ok(s)
    }
}

/// A statement's text for PostgreSQL: `?N` → `$N`, and no `INDEXED BY <index>`.
pub(super) fn pg_text(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut rest = sql;
    while let Some(i) = rest.find("INDEXED BY ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "INDEXED BY ".len()..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        rest = after[end..].trim_start_matches(' ');
    }
    out.push_str(rest);
    let mut text = String::with_capacity(out.len());
    let mut chars = out.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '?' && chars.peek().is_some_and(char::is_ascii_digit) {
            text.push('$');
        } else {
            text.push(c);
        }
    }
    text
}

/// A parameter of a statement.
#[derive(Debug, Clone, Copy)]
pub enum Value<'a> {
    Null,
    Int(i64),
    Text(&'a str),
    Bytes(&'a [u8]),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}
impl From<u8> for Value<'_> {
    fn from(v: u8) -> Self {
        Value::Int(v.into())
    }
}
impl From<u32> for Value<'_> {
    fn from(v: u32) -> Self {
        Value::Int(v.into())
    }
}
impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Int(v.into())
    }
}
impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(v)
    }
}
impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(v)
    }
}
impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(v: &'a [u8]) -> Self {
        Value::Bytes(v)
    }
}
impl<'a> From<&'a Vec<u8>> for Value<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}
impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// The parameters of a statement, each converted to a [`Value`].
macro_rules! params {
    ($($v:expr),* $(,)?) => {
        &[$($crate::storage::sql::Value::from($v)),*][..]
    };
}
pub(crate) use params;

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null => ValueRef::Null,
            Value::Int(i) => ValueRef::Integer(i),
            Value::Text(s) => ValueRef::Text(s.as_bytes()),
            Value::Bytes(b) => ValueRef::Blob(b),
        }))
    }
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> std::result::Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT2 => i16::try_from(i)?.to_sql(ty, out),
                Type::INT4 => i32::try_from(i)?.to_sql(ty, out),
                Type::BOOL => (i != 0).to_sql(ty, out),
                _ => i.to_sql(ty, out),
            },
            Value::Text(s) => s.to_sql(ty, out),
            Value::Bytes(b) => b.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        matches!(
            *ty,
            Type::INT2 | Type::INT4 | Type::INT8 | Type::BOOL | Type::TEXT | Type::VARCHAR
        ) || *ty == Type::BYTEA
    }

    to_sql_checked!();
}

/// Parameters as the PostgreSQL client takes them.
fn pg_args<'a>(params: &'a [Value<'_>]) -> Vec<&'a (dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

/// One row of a result, read in place.
pub(super) enum RowRef<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl<'r> RowRef<'r> {
    pub fn int(&self, i: usize) -> Result<i64> {
        self.opt_int(i)?
            .ok_or_else(|| Error::Internal(format!("column {i} is null")))
    }

    pub fn opt_int(&self, i: usize) -> Result<Option<i64>> {
        match self {
            RowRef::Sqlite(r) => Ok(r.get(i)?),
            RowRef::Postgres(r) => Ok(match *r.columns()[i].type_() {
                Type::INT2 => r.try_get::<_, Option<i16>>(i)?.map(i64::from),
                Type::INT4 => r.try_get::<_, Option<i32>>(i)?.map(i64::from),
                Type::BOOL => r.try_get::<_, Option<bool>>(i)?.map(i64::from),
                _ => r.try_get::<_, Option<i64>>(i)?,
            }),
        }
    }

    pub fn flag(&self, i: usize) -> Result<bool> {
        Ok(self.int(i)? != 0)
    }

    pub fn level(&self, i: usize) -> Result<u8> {
        let v = self.int(i)?;
        u8::try_from(v).map_err(|_| Error::Internal(format!("level {v} out of range")))
    }

    pub fn str(&self, i: usize) -> Result<&'r str> {
        self.opt_str(i)?
            .ok_or_else(|| Error::Internal(format!("column {i} is null")))
    }

    pub fn opt_str(&self, i: usize) -> Result<Option<&'r str>> {
        match self {
            RowRef::Sqlite(r) => match r.get_ref(i)? {
                rusqlite::types::ValueRef::Null => Ok(None),
                v => Ok(Some(
                    v.as_str().map_err(|e| Error::Internal(e.to_string()))?,
                )),
            },
            RowRef::Postgres(r) => Ok(r.try_get::<_, Option<&str>>(i)?),
        }
    }

    pub fn text(&self, i: usize) -> Result<String> {
        self.str(i).map(str::to_owned)
    }

    /// Every column as text (tests: `Conn::inspect`): integers in decimal, bytes in hex.
    pub fn all_text(&self) -> Result<Vec<Option<String>>> {
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        match self {
            RowRef::Sqlite(r) => (0..r.as_ref().column_count())
                .map(|i| {
                    use rusqlite::types::ValueRef;
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => None,
                        ValueRef::Integer(v) => Some(v.to_string()),
                        ValueRef::Real(v) => Some(v.to_string()),
                        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Some(hex(b)),
                    })
                })
                .collect(),
            RowRef::Postgres(r) => (0..r.len())
                .map(|i| {
                    Ok(match *r.columns()[i].type_() {
                        Type::BYTEA => r.try_get::<_, Option<&[u8]>>(i)?.map(hex),
                        Type::TEXT | Type::VARCHAR | Type::NAME => {
                            r.try_get::<_, Option<String>>(i)?
                        }
                        _ => self.opt_int(i)?.map(|v| v.to_string()),
                    })
                })
                .collect(),
        }
    }

    pub fn bytes(&self, i: usize) -> Result<&'r [u8]> {
        match self {
            RowRef::Sqlite(r) => Ok(r
                .get_ref(i)?
                .as_blob()
                .map_err(|e| Error::Internal(e.to_string()))?),
            RowRef::Postgres(r) => Ok(r.try_get::<_, &[u8]>(i)?),
        }
    }
}

impl<'c> Db<'c> {
    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Run `sql` and hand each row to `f` while it returns true (a page stops early).
    pub fn each(
        &self,
        sql: &str,
        params: &[Value<'_>],
        mut f: impl FnMut(&RowRef<'_>) -> Result<bool>,
    ) -> Result<()> {
        match self {
            Db::Sqlite(c) => {
                let mut stmt = c.prepare_cached(sql)?;
                let mut rows = stmt.query(rusqlite::params_from_iter(params.iter()))?;
                while let Some(r) = rows.next()? {
                    if !f(&RowRef::Sqlite(r))? {
                        break;
                    }
                }
                Ok(())
            }
            Db::Postgres(s) => {
                // Read whole before `f` runs: `f` may query the same connection (a probe
                // per unit of a scan), which PostgreSQL's protocol cannot interleave.
                let rows = {
                    let mut s = s.borrow_mut();
                    let stmt = s.statement(sql)?;
                    s.client.query(&stmt, &pg_args(params))?
                };
                for r in &rows {
                    if !f(&RowRef::Postgres(r))? {
                        break;
                    }
                }
                Ok(())
            }
        }
    }

    /// Every row of `sql`, each read by `f`.
    pub fn rows<T>(
        &self,
        sql: &str,
        params: &[Value<'_>],
        mut f: impl FnMut(&RowRef<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.each(sql, params, |r| {
            out.push(f(r)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// The first row of `sql`, read by `f`, if there is one.
    pub fn row<T>(
        &self,
        sql: &str,
        params: &[Value<'_>],
        f: impl FnOnce(&RowRef<'_>) -> Result<T>,
    ) -> Result<Option<T>> {
        let mut f = Some(f);
        let mut out = None;
        self.each(sql, params, |r| {
            out = Some((f.take().expect("called once"))(r)?);
            Ok(false)
        })?;
        Ok(out)
    }

    /// Whether `sql` has a row.
    pub fn exists(&self, sql: &str, params: &[Value<'_>]) -> Result<bool> {
        Ok(self.row(sql, params, |_| Ok(()))?.is_some())
    }

    /// Run `sql`; the number of rows it changed.
    pub fn execute(&self, sql: &str, params: &[Value<'_>]) -> Result<u64> {
        match self {
            Db::Sqlite(c) => {
                Ok(c.prepare_cached(sql)?
                    .execute(rusqlite::params_from_iter(params.iter()))? as u64)
            }
            Db::Postgres(s) => {
                let mut s = s.borrow_mut();
                let stmt = s.statement(sql)?;
                Ok(s.client.execute(&stmt, &pg_args(params))?)
            }
        }
    }

    /// Run statements without parameters or results (schema, `BEGIN`).
    pub fn batch(&self, sql: &str) -> Result<()> {
        match self {
            Db::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Db::Postgres(s) => Ok(s.borrow_mut().client.batch_execute(sql)?),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::pg_text;

    #[test]
    fn a_statement_reads_as_postgres() {
        assert_eq!(
            pg_text("SELECT a FROM t INDEXED BY t_idx WHERE a = ?1 AND b > ?12 AND c = '?'"),
            "SELECT a FROM t WHERE a = $1 AND b > $12 AND c = '?'"
        );
        assert_eq!(
            pg_text("SELECT 1 FROM codes k INDEXED BY codes_open\n WHERE k.x = ?2"),
            "SELECT 1 FROM codes k \n WHERE k.x = $2"
        );
    }
}
