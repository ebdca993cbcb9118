//! The replica: a unit's subtree, stored in one local SQLite file, and every operation of
//! a unit admin on it (rules.md §3, §5–§7, §10, §11). Each operation validates with `schemas`
//! before anything is written, and either commits whole (durable when it returns) or
//! changes nothing.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use automerge::{ActorId, AutoCommit};
use rusqlite::Connection;
use schemas::code::{IssuedCode, RegistrationCode};
use schemas::name::ChainLink;
use schemas::org::{self, CodeRecord, Context, OrgRecord, Relation};
use schemas::tree;
use schemas::{Category, Division, Field, Level, ShortName, Violation};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::store::{self, Ancestor, Projected};
use wire::{doc, heads, history};

/// A direct subordinate to create, as the user typed it (a form or an Excel row).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct NewChild {
    pub category: String,
    pub short_name: String,
    /// Empty: generated from the chain (rules.md §6); otherwise the user's correction.
    pub full_name: String,
    pub industry: String,
    pub phone: String,
    pub email: String,
    pub youth_count: String,
    pub recommended_count: String,
}

/// Where to move a child among its siblings (上移 / 下移).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Up,
    Down,
}

/// An organization as the replica shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct OrgView {
    pub record: OrgRecord,
    pub completeness: org::Completeness,
    /// Local changes not yet acknowledged by a server.
    pub pending: bool,
    /// Ever acknowledged by a server.
    pub synced: bool,
    /// The server's last refusal, with its reasons.
    pub rejection: Option<Vec<Violation>>,
}

/// One line of the tree view.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TreeEntry {
    pub depth: usize,
    pub record: OrgRecord,
    pub complete: bool,
    pub pending: bool,
}

/// A code issued for a child, for display and export.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ChildCode {
    pub org_id: String,
    pub short_name: String,
    pub category: String,
    pub code: String,
    pub expires_at: OffsetDateTime,
}

/// The local replica of one unit's subtree.
pub struct Replica {
    conn: Connection,
    actor: ActorId,
    own_id: String,
    path: PathBuf,
}

fn now_secs() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

fn new_org_id() -> String {
    use rand::RngExt;
    let bytes: [u8; 12] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Replica {
    /// Create a new replica file for the unit `own` (whose document the parent created:
    /// `own_doc` is its bytes), with the summary of its ancestors (root first).
    pub fn create(path: &Path, own_doc: &[u8], ancestors: &[Ancestor]) -> Result<Replica> {
        Replica::create_atomically(path, |tmp| {
            Replica::create_in_place(tmp, own_doc, ancestors).map(drop)
        })
    }

    /// Build a new replica file with `build` at a temporary path beside `path`, then move
    /// it into place: a crash while creating leaves no half-made replica at `path`.
    pub(crate) fn create_atomically(
        path: &Path,
        build: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<Replica> {
        if path.exists() {
            return Err(Error::Refused(Violation::error(
                "replica.exists",
                None,
                format!("本地数据文件已存在:{}", path.display()),
            )));
        }
        let tmp = path.with_extension("creating");
        let sidecars = |p: &Path| {
            let s = p.as_os_str().to_owned();
            [
                format!("{}-wal", s.to_string_lossy()),
                format!("{}-shm", s.to_string_lossy()),
            ]
        };
        for f in std::iter::once(tmp.to_string_lossy().into_owned()).chain(sidecars(&tmp)) {
            let _ = std::fs::remove_file(f); // a leftover of an interrupted creation
        }
        build(&tmp)?;
        {
            // Fold the WAL into the file so that the rename moves everything.
            let conn = Connection::open(&tmp)?;
            conn.pragma_update(None, "journal_mode", "DELETE")?;
        }
        std::fs::rename(&tmp, path)?;
        Replica::open(path)
    }

    pub(crate) fn create_in_place(
        path: &Path,
        own_doc: &[u8],
        ancestors: &[Ancestor],
    ) -> Result<Replica> {
        let mut conn = store::open(path)?;
        let doc = AutoCommit::load(own_doc)?;
        let record = doc::read(&doc);
        let actor = ActorId::random();
        let tx = conn.transaction()?;
        store::set_meta(&tx, "own_id", &record.id)?;
        store::set_meta(&tx, "actor", &actor.to_hex_string())?;
        for a in ancestors {
            store::put_ancestor(&tx, a)?;
        }
        tx.commit()?;
        let replica = Replica {
            conn,
            actor,
            own_id: record.id.clone(),
            path: path.to_owned(),
        };
        let complete = replica.completeness(&record).is_complete();
        store::save_doc(&replica.conn, &record, complete, own_doc, None, false)?;
        Ok(replica)
    }

    /// Open an existing replica.
    pub fn open(path: &Path) -> Result<Replica> {
        if !path.exists() {
            return Err(Error::Refused(Violation::error(
                "replica.missing",
                None,
                format!("找不到本地数据文件:{},请先初始化", path.display()),
            )));
        }
        let conn = store::open(path)?;
        let own_id = store::get_meta(&conn, "own_id")?.ok_or_else(|| {
            Error::Refused(Violation::error(
                "replica.damaged",
                None,
                "本地数据文件缺少本组织信息",
            ))
        })?;
        let actor = match store::get_meta(&conn, "actor")? {
            Some(hex) => ActorId::try_from(hex.as_str()).unwrap_or_else(|_| ActorId::random()),
            None => ActorId::random(),
        };
        Ok(Replica {
            conn,
            actor,
            own_id,
            path: path.to_owned(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn own_id(&self) -> &str {
        &self.own_id
    }

    /// The SQLite connection, for the sync client of this crate.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn actor(&self) -> &ActorId {
        &self.actor
    }

    // ---------------------------------------------------------------- reading

    fn projected(&self, id: &str) -> Result<Projected> {
        store::projected_one(&self.conn, id)?.ok_or_else(|| Error::OrgNotFound(id.to_owned()))
    }

    /// The organization's record and its state.
    pub fn org(&self, id: &str) -> Result<OrgView> {
        let p = self.projected(id)?;
        Ok(OrgView {
            completeness: self.completeness(&p.record),
            record: p.record,
            pending: p.dirty,
            synced: p.synced,
            rejection: store::rejection(&self.conn, id)?,
        })
    }

    /// The replica's own organization.
    pub fn own(&self) -> Result<OrgView> {
        self.org(&self.own_id)
    }

    /// Direct children of `parent` in display order; deleted ones left out.
    pub fn children(&self, parent: &str) -> Result<Vec<OrgRecord>> {
        Ok(store::children(&self.conn, parent)?
            .into_iter()
            .filter(|p| !p.record.deleted)
            .map(|p| p.record)
            .collect())
    }

    /// The whole live subtree, depth first, in display order.
    pub fn tree(&self) -> Result<Vec<TreeEntry>> {
        let all = store::all(&self.conn)?;
        let mut by_parent: HashMap<&str, Vec<&Projected>> = HashMap::new();
        let mut own = None;
        for p in &all {
            if p.record.id == self.own_id {
                own = Some(p);
            } else if !p.record.deleted {
                by_parent
                    .entry(p.record.parent.as_str())
                    .or_default()
                    .push(p);
            }
        }
        for v in by_parent.values_mut() {
            v.sort_by(|a, b| {
                (a.record.sort_key, &a.record.id).cmp(&(b.record.sort_key, &b.record.id))
            });
        }
        let mut out = Vec::with_capacity(all.len());
        let mut stack: Vec<(usize, &Projected)> = own.into_iter().map(|p| (0, p)).collect();
        while let Some((depth, p)) = stack.pop() {
            out.push(TreeEntry {
                depth,
                record: p.record.clone(),
                complete: p.complete,
                pending: p.dirty,
            });
            if let Some(kids) = by_parent.get(p.record.id.as_str()) {
                for k in kids.iter().rev() {
                    stack.push((depth + 1, k));
                }
            }
        }
        Ok(out)
    }

    /// Ancestors of the replica's own unit (root first).
    pub fn ancestors(&self) -> Result<Vec<Ancestor>> {
        store::ancestors(&self.conn)
    }

    /// Number of organizations held, and of those with unacknowledged changes.
    pub fn counts(&self) -> Result<(u64, u64)> {
        Ok((
            store::count_docs(&self.conn)?,
            store::count_dirty(&self.conn)?,
        ))
    }

    /// The chain from the root down to `id` inclusive, as full-name generation needs it.
    pub fn chain(&self, id: &str) -> Result<Vec<ChainLink>> {
        let mut links = Vec::new();
        let mut cur = id.to_owned();
        loop {
            let p = self.projected(&cur)?;
            links.push(ChainLink {
                level: Level::new(p.record.level).map_err(Error::from)?,
                category: p.record.category().unwrap_or(Category::Committee),
                short_name: p.record.short_name.clone(),
            });
            if cur == self.own_id {
                break;
            }
            cur = p.record.parent.clone();
        }
        for a in self.ancestors()?.iter().rev() {
            links.push(ChainLink {
                level: Level::new(a.level).map_err(Error::from)?,
                category: Category::parse(&a.category).unwrap_or(Category::LeadingOrgan),
                short_name: a.short_name.clone(),
            });
        }
        links.reverse();
        Ok(links)
    }

    fn completeness(&self, r: &OrgRecord) -> org::Completeness {
        // The region check of leading-organ names needs the chain; a missing link only
        // skips that check (never a reason to refuse at this level).
        let chain = self.chain(&r.parent).unwrap_or_default();
        let region = schemas::name::region_of_chain(&chain);
        r.completeness(&Context { region })
    }

    /// How the replica's admin relates to `id`: the own unit, or an ancestor of it.
    fn relation(&self, id: &str) -> Relation {
        if id == self.own_id {
            Relation::Own
        } else {
            Relation::Ancestor
        }
    }

    /// The generated full name of a would-be child (rules.md §6), for the form to show and
    /// the user to correct.
    pub fn preview_full_name(
        &self,
        parent: &str,
        category: Category,
        short_name: &str,
    ) -> Result<String> {
        let chain = self.chain(parent)?;
        let region = schemas::name::region_of_chain(&chain);
        let name = ShortName::parse(short_name, category, region)?;
        Ok(schemas::name::generate_full_name(&chain, category, &name))
    }

    // ---------------------------------------------------------------- writing helpers

    fn load_doc(&self, id: &str) -> Result<(AutoCommit, store::DocRow)> {
        let row =
            store::load_doc(&self.conn, id)?.ok_or_else(|| Error::OrgNotFound(id.to_owned()))?;
        let mut doc = AutoCommit::load(&row.bytes)?;
        doc.set_actor(self.actor.clone());
        Ok((doc, row))
    }

    /// Write `after` over the document of `after.id`, inside the caller's transaction.
    fn store_change(
        &self,
        conn: &Connection,
        doc: &mut AutoCommit,
        row: &store::DocRow,
        before: &OrgRecord,
        after: &OrgRecord,
    ) -> Result<()> {
        if doc::write(doc, before, after, now_secs())? {
            let complete = self.completeness(after).is_complete();
            store::save_doc(
                conn,
                after,
                complete,
                &doc.save_nocompress(),
                row.acked_heads.as_deref(),
                true,
            )?;
        }
        Ok(())
    }

    /// The state a server accepted, if the document was ever acknowledged.
    fn accepted(&self, doc: &mut AutoCommit, row: &store::DocRow) -> Result<Option<OrgRecord>> {
        match &row.acked_heads {
            Some(h) => Ok(Some(doc::read_at(doc, &heads::decode(h))?)),
            None => Ok(None),
        }
    }

    /// The information fields of `id` this replica's admin cannot change now, for a form to
    /// lock: what the parent's admin sets (when `id` is the own unit) and the immutable
    /// fields whose value a server has accepted (rules.md §3 "填写后不可修改").
    pub fn locked_fields(&self, id: &str) -> Result<Vec<Field>> {
        let (mut doc, row) = self.load_doc(id)?;
        let accepted = self.accepted(&mut doc, &row)?;
        let relation = self.relation(id);
        Ok(org::INFO_FIELDS
            .into_iter()
            .filter(|&f| {
                !org::may_write(relation, f)
                    || (org::IMMUTABLE_FIELDS.contains(&f)
                        && accepted
                            .as_ref()
                            .is_some_and(|a| !a.get(f).trim().is_empty()))
            })
            .collect())
    }

    // ---------------------------------------------------------------- operations

    /// Fill or edit information fields of `id` (the own unit, or a unit below it on its
    /// behalf). Values are normalized; present values must be valid (empty = cleared,
    /// missing); immutable fields a server has accepted cannot change; the own unit's admin
    /// cannot change what its parent sets.
    pub fn update_info(&mut self, id: &str, changes: &[(Field, String)]) -> Result<OrgView> {
        let (mut doc, row) = self.load_doc(id)?;
        let before = doc::read(&doc);
        let mut after = before.clone();
        let category = changes
            .iter()
            .find(|(f, _)| *f == Field::Category)
            .and_then(|(_, v)| Category::parse(v).ok())
            .or_else(|| before.category());
        let chain = self.chain(&before.parent).unwrap_or_default();
        let ctx = Context {
            region: schemas::name::region_of_chain(&chain),
        };
        let mut violations = Vec::new();
        for (field, raw) in changes {
            let Some(slot) = after.get_mut(*field) else {
                violations.push(Violation::error(
                    "field.not_info",
                    Some(*field),
                    format!("“{}”不能在这里修改", field.label()),
                ));
                continue;
            };
            if raw.trim().is_empty() {
                slot.clear();
                continue;
            }
            match org::canonical_value(*field, raw, category, &ctx) {
                Ok(v) => *slot = v,
                Err(v) => violations.push(v.on(*field)),
            }
        }
        let changed = before.changed_fields(&after);
        violations.extend(org::forbidden_changes(self.relation(id), &changed));
        if let Some(accepted) = self.accepted(&mut doc, &row)? {
            violations.extend(org::immutable_violations(&accepted, &after));
        }
        if changed.contains(&Field::ShortName) && !after.short_name.is_empty() {
            self.check_sibling_unique(&after.parent, &after.short_name, Some(id), &mut violations)?;
        }
        if !violations.is_empty() {
            return Err(Error::Invalid(violations));
        }
        let tx = self.conn.unchecked_transaction()?;
        self.store_change(&tx, &mut doc, &row, &before, &after)?;
        tx.commit()?;
        self.org(id)
    }

    fn check_sibling_unique(
        &self,
        parent: &str,
        name: &str,
        except: Option<&str>,
        out: &mut Vec<Violation>,
    ) -> Result<()> {
        let taken = store::children(&self.conn, parent)?.into_iter().any(|p| {
            !p.record.deleted
                && Some(p.record.id.as_str()) != except
                && schemas::name::names_equal(&p.record.short_name, name)
        });
        if taken {
            out.push(tree::duplicate_short_name(name));
        }
        Ok(())
    }

    /// Judge new children of `parent` without writing anything: for each (by index) the
    /// violations that refuse it. Names must be unique among the live siblings and within
    /// the batch.
    pub fn validate_children(
        &self,
        parent: &str,
        children: &[NewChild],
    ) -> Result<Vec<(usize, Vec<Violation>)>> {
        Ok(self.judge_children(parent, children)?.failures)
    }

    /// Judge every new child of `parent` once: the records of those that pass, numbered
    /// after the last sibling, and the violations of those that fail (by index).
    pub(crate) fn judge_children(&self, parent: &str, children: &[NewChild]) -> Result<Judged> {
        let parent_rec = self.projected(parent)?.record;
        let chain = self.chain(parent)?;
        let region = schemas::name::region_of_chain(&chain);
        let ctx = Context { region };
        let siblings = store::children(&self.conn, parent)?;
        let mut taken: HashSet<String> = siblings
            .iter()
            .filter(|p| !p.record.deleted)
            .map(|p| schemas::name::name_key(&p.record.short_name))
            .collect();
        let mut next_key = siblings
            .iter()
            .map(|p| p.record.sort_key)
            .max()
            .unwrap_or(0);
        let mut records = Vec::with_capacity(children.len());
        let mut failures = Vec::new();
        for (i, c) in children.iter().enumerate() {
            match self.judge_child(&parent_rec, &chain, &ctx, c, &mut taken) {
                Ok(mut r) => {
                    next_key += 1;
                    r.sort_key = next_key;
                    records.push(r);
                }
                Err(v) => failures.push((i, v)),
            }
        }
        Ok(Judged {
            records,
            failures,
            region,
        })
    }

    /// Judge one new child and build its record; `taken` holds the normalized names in use.
    /// Its place in the tree is judged by `schemas::tree`, as the server's merge judges it;
    /// the values as typed by their parsers.
    fn judge_child(
        &self,
        parent: &OrgRecord,
        chain: &[ChainLink],
        ctx: &Context<'_>,
        c: &NewChild,
        taken: &mut HashSet<String>,
    ) -> std::result::Result<OrgRecord, Vec<Violation>> {
        let mut rec = OrgRecord::new(new_org_id(), parent.id.clone(), Level::CENTRAL);
        rec.level = parent.level.saturating_add(1);
        rec.category = schemas::text::normalize(&c.category);
        rec.short_name = schemas::text::normalize(&c.short_name);
        let mut v = tree::judge_new(&tree::Parent::from(parent), &rec);
        // Empty ones are reported by `tree::judge_new`.
        let category = match Category::parse(&rec.category) {
            Ok(cat) => Some(cat),
            Err(e) => {
                if !rec.category.is_empty() {
                    v.push(e);
                }
                None
            }
        };
        let mut short = None;
        if let (false, Some(cat)) = (rec.short_name.is_empty(), category) {
            match ShortName::parse(&c.short_name, cat, ctx.region) {
                Ok(n) => {
                    if !taken.insert(n.key()) {
                        v.push(tree::duplicate_short_name(n.as_str()));
                    }
                    short = Some(n);
                }
                Err(e) => v.push(e),
            }
        }
        let full = match (&short, category) {
            (Some(n), Some(cat)) if c.full_name.trim().is_empty() => {
                schemas::name::generate_full_name(chain, cat, n)
            }
            _ => schemas::text::normalize(&c.full_name),
        };
        if let (false, Err(e)) = (full.is_empty(), schemas::FullName::parse(&full)) {
            v.push(e);
        }
        rec.category = category.map(|c| c.label().to_owned()).unwrap_or_default();
        rec.short_name = short.map(|n| n.as_str().to_owned()).unwrap_or_default();
        rec.full_name = full;
        for (field, raw) in [
            (Field::Industry, &c.industry),
            (Field::Phone, &c.phone),
            (Field::Email, &c.email),
            (Field::YouthCount, &c.youth_count),
            (Field::RecommendedCount, &c.recommended_count),
        ] {
            if raw.trim().is_empty() {
                continue;
            }
            match org::canonical_value(field, raw, category, ctx) {
                Ok(val) => {
                    if let Some(slot) = rec.get_mut(field) {
                        *slot = val;
                    }
                }
                Err(e) => v.push(e.on(field)),
            }
        }
        if v.is_empty() { Ok(rec) } else { Err(v) }
    }

    /// Create one direct child of `parent`. Returns the new organization's id.
    pub fn create_child(&mut self, parent: &str, child: &NewChild) -> Result<String> {
        let ids = self.create_children(parent, std::slice::from_ref(child), &mut |_, _| {})?;
        Ok(ids.into_iter().next().unwrap_or_default())
    }

    /// Create a batch of direct children of `parent`: all are judged first, and nothing is
    /// created while any fails (the error lists every failing index). `progress(done,
    /// total)` is called as documents are written. One transaction: all or nothing.
    pub fn create_children(
        &mut self,
        parent: &str,
        children: &[NewChild],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<String>> {
        self.check_in_subtree(parent)?;
        let Judged {
            records,
            mut failures,
            region,
        } = self.judge_children(parent, children)?;
        if !failures.is_empty() {
            if children.len() == 1 {
                return Err(Error::Invalid(failures.remove(0).1));
            }
            return Err(Error::ImportRows(
                failures.into_iter().map(|(i, v)| (i as u32, v)).collect(),
            ));
        }
        self.write_children(&records, region, progress)
    }

    /// `OrgNotFound` unless `id` is the own unit or below it.
    pub(crate) fn check_in_subtree(&self, id: &str) -> Result<()> {
        if self.relation(id) != Relation::Own && !self.is_in_subtree(id)? {
            return Err(Error::OrgNotFound(id.to_owned()));
        }
        Ok(())
    }

    /// Write the judged new children in one transaction (all or nothing, durable when it
    /// returns). Returns their ids.
    pub(crate) fn write_children(
        &mut self,
        records: &[OrgRecord],
        region: Option<&Division>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<String>> {
        let ctx = Context { region };
        let total = records.len();
        let time = now_secs();
        let tx = self.conn.unchecked_transaction()?;
        let mut ids = Vec::with_capacity(total);
        for (i, r) in records.iter().enumerate() {
            let complete = r.completeness(&ctx).is_complete();
            // The genesis change alone is the stored document (it loads as one), until
            // the first edit saves the whole document.
            let change = doc::genesis_change(r, &self.actor, time);
            store::save_doc(&tx, r, complete, change.raw_bytes(), None, true)?;
            ids.push(r.id.clone());
            if i % 100 == 99 || i + 1 == total {
                progress(i + 1, total);
            }
        }
        tx.commit()?;
        Ok(ids)
    }

    fn is_in_subtree(&self, id: &str) -> Result<bool> {
        let mut cur = id.to_owned();
        for _ in 0..=usize::from(schemas::level::MAX_LEVEL) {
            if cur == self.own_id {
                return Ok(true);
            }
            match store::projected_one(&self.conn, &cur)? {
                Some(p) => cur = p.record.parent,
                None => return Ok(false),
            }
        }
        Ok(false)
    }

    /// Move a child one place up or down among its live siblings (上移 / 下移).
    pub fn move_child(&mut self, id: &str, dir: Direction) -> Result<()> {
        if id == self.own_id {
            return Err(refused("order.own", "本组织的排序由上级组织调整"));
        }
        let me = self.projected(id)?.record;
        let mut sibs: Vec<OrgRecord> = self.children(&me.parent)?;
        let pos = sibs
            .iter()
            .position(|r| r.id == id)
            .ok_or_else(|| Error::OrgNotFound(id.to_owned()))?;
        let other =
            tree::neighbour(pos, sibs.len(), dir == Direction::Up).map_err(Error::Refused)?;
        // Renumber the live siblings 1..n in the new order; only changed keys are written.
        sibs.swap(pos, other);
        let tx = self.conn.unchecked_transaction()?;
        for (i, r) in sibs.iter().enumerate() {
            let key = i as i64 + 1;
            if r.sort_key != key {
                let (mut d, row) = self.load_doc(&r.id)?;
                let before = doc::read(&d);
                let mut after = before.clone();
                after.sort_key = key;
                self.store_change(&tx, &mut d, &row, &before, &after)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Delete a child with no live children and no registered admin (a tombstone: the
    /// deletion syncs like any change).
    pub fn delete_child(&mut self, id: &str) -> Result<()> {
        if id == self.own_id {
            return Err(refused("delete.own", "不能删除本组织"));
        }
        let (mut d, row) = self.load_doc(id)?;
        let before = doc::read(&d);
        if before.deleted {
            return Ok(());
        }
        let mut after = before.clone();
        after.deleted = true;
        let dependents = tree::Dependents {
            live_children: self.children(id)?.len() as u64,
            admins: store::server_facts(&self.conn, id)?.admins.len() as u64,
        };
        let mut v = tree::judge_deletion(&before, &after, dependents);
        match v.len() {
            0 => {}
            1 => return Err(Error::Refused(v.remove(0))),
            _ => return Err(Error::Invalid(v)),
        }
        let tx = self.conn.unchecked_transaction()?;
        self.store_change(&tx, &mut d, &row, &before, &after)?;
        tx.commit()?;
        Ok(())
    }

    /// The code of `id` that is still valid at `now` (unexpired, unused), if any.
    pub fn valid_code(&self, id: &str, now: OffsetDateTime) -> Result<Option<ChildCode>> {
        let r = self.projected(id)?.record;
        let used = store::server_facts(&self.conn, id)?.used_codes;
        Ok(r.codes
            .iter()
            .filter(|(c, rec)| {
                !schemas::code::expired(rec.expires_at, now.unix_timestamp()) && !used.contains(c)
            })
            .max_by_key(|(_, rec)| rec.expires_at)
            .map(|(c, rec)| ChildCode {
                org_id: r.id.clone(),
                short_name: r.short_name.clone(),
                category: r.category.clone(),
                code: c.clone(),
                expires_at: OffsetDateTime::from_unix_timestamp(rec.expires_at).unwrap_or(now),
            }))
    }

    /// Issue a registration code for a unit below the replica's own (rules.md §7): 8
    /// characters from a cryptographic RNG, valid 20 days.
    pub fn issue_code(&mut self, child: &str, now: OffsetDateTime) -> Result<ChildCode> {
        let tx = self.conn.unchecked_transaction()?;
        let c = self.issue_code_in(&tx, child, now)?;
        tx.commit()?;
        Ok(c)
    }

    fn issue_code_in(
        &self,
        conn: &Connection,
        child: &str,
        now: OffsetDateTime,
    ) -> Result<ChildCode> {
        if child == self.own_id {
            return Err(refused("code.own", "注册码由上级组织生成,不能为本组织生成"));
        }
        let (mut d, row) = self.load_doc(child)?;
        let before = doc::read(&d);
        if before.deleted {
            return Err(refused("code.deleted", "该组织已删除"));
        }
        let issued = IssuedCode::new(RegistrationCode::generate(&mut rand::rng()), now);
        let mut after = before.clone();
        after.codes.insert(
            issued.code.as_str().to_owned(),
            CodeRecord {
                issued_at: issued.issued_at.unix_timestamp(),
                expires_at: issued.expires_at.unix_timestamp(),
                issued_by: self.own_id.clone(),
            },
        );
        self.store_change(conn, &mut d, &row, &before, &after)?;
        Ok(ChildCode {
            org_id: after.id.clone(),
            short_name: after.short_name.clone(),
            category: after.category.clone(),
            code: issued.code.as_str().to_owned(),
            expires_at: issued.expires_at,
        })
    }

    /// Issue a code for every live direct child of `parent` that has neither a valid code
    /// nor a registered admin (批量生成). Returns the codes issued, in display order.
    pub fn issue_codes_batch(
        &mut self,
        parent: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<ChildCode>> {
        let kids = self.children(parent)?;
        let tx = self.conn.unchecked_transaction()?;
        let mut out = Vec::new();
        for k in kids {
            if self.valid_code(&k.id, now)?.is_some()
                || !store::server_facts(&self.conn, &k.id)?.admins.is_empty()
            {
                continue;
            }
            out.push(self.issue_code_in(&tx, &k.id, now)?);
        }
        tx.commit()?;
        Ok(out)
    }

    /// Every live direct child of `parent` with its valid code, if any.
    pub fn codes_of_children(
        &self,
        parent: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<(OrgRecord, Option<ChildCode>)>> {
        self.children(parent)?
            .into_iter()
            .map(|k| {
                let c = self.valid_code(&k.id, now)?;
                Ok((k, c))
            })
            .collect()
    }
}

/// New children judged: see [`Replica::judge_children`].
pub(crate) struct Judged {
    pub records: Vec<OrgRecord>,
    pub failures: Vec<(usize, Vec<Violation>)>,
    pub region: Option<&'static Division>,
}

fn refused(code: &str, message: &str) -> Error {
    Error::Refused(Violation::error(code, None, message))
}

impl Replica {
    /// The history of `id` (an organization of the replica), oldest first, with the
    /// author records pulled from the server; this replica's changes not yet confirmed by
    /// a server are [`history::Writer::Local`].
    pub fn history(&self, id: &str) -> Result<Vec<history::Entry>> {
        let row =
            store::load_doc(self.conn(), id)?.ok_or_else(|| Error::OrgNotFound(id.to_owned()))?;
        let mut doc = AutoCommit::load(&row.bytes)?;
        let authors = store::change_authors(self.conn(), id)?;
        Ok(history::history(
            &mut doc,
            &|h| authors.get(h).cloned(),
            Some(self.actor()),
        ))
    }
}
