//! Operations of the replica that combine the store with Excel, progress and exchange with
//! other replicas: starting a replica from the pre-initialized tree, importing children
//! from a sheet, exporting codes and tables, the offline progress view, and merging
//! Automerge bytes received from elsewhere.

use std::collections::HashMap;
use std::path::Path;

use automerge::AutoCommit;
use schemas::org::Context;
use schemas::progress::{self, LevelCounts, ProgressRow, TreeNode, UnitFacts};
use schemas::{Level, Violation, beijing};
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::excel::{self, CodeRow, ImportRow, OrgTableRow};
use crate::replica::{NewChild, Replica};
use crate::store::{self, Ancestor};
use wire::{doc, heads};

/// One tab of the progress view: a level below the viewer.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LevelProgress {
    pub level: Level,
    pub title: String,
    pub counts: LevelCounts,
    pub sentence: String,
    pub rows: Vec<ProgressRow>,
}

/// The progress of the replica's own subtree (rules.md §11), as known offline.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Progress {
    pub levels: Vec<LevelProgress>,
    /// Short names of committees with no branch below (rules.md §1).
    pub without_branch: Vec<String>,
}

/// Result of an Excel import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    pub created: Vec<String>,
}

impl Replica {
    /// Start a replica offline for a pre-initialized unit (团成都市委 or one of its district
    /// and county committees, rules.md §1), identified by its division code or short name.
    pub fn create_from_initial(path: &Path, unit: &str) -> Result<Replica> {
        let tree = schemas::initial::initial_tree();
        let idx = tree
            .iter()
            .position(|r| r.id == schemas::initial::org_id(unit) || r.short_name == unit)
            .ok_or_else(|| {
                Error::Refused(Violation::error(
                    "init.unknown_unit",
                    None,
                    format!("预置组织中没有“{unit}”,请填写行政区划代码(如510104)或组织简称(如团锦江区委)"),
                ))
            })?;
        let own = &tree[idx];
        let mut ancestors = Vec::new();
        let mut cur = own.parent.clone();
        while let Some(a) = tree.iter().find(|r| r.id == cur) {
            ancestors.push(Ancestor {
                id: a.id.clone(),
                parent: a.parent.clone(),
                level: a.level,
                category: a.category.clone(),
                short_name: a.short_name.clone(),
                full_name: a.full_name.clone(),
            });
            cur = a.parent.clone();
        }
        ancestors.reverse();
        let bytes = doc::deterministic_genesis(own)?.save_nocompress();
        Replica::create_atomically(path, |tmp| {
            let mut replica = Replica::create_in_place(tmp, &bytes, &ancestors)?;
            // Pre-initialized children (a city's districts) come with the replica too.
            for k in tree.iter().filter(|r| r.parent == own.id) {
                let b = doc::deterministic_genesis(k)?.save_nocompress();
                replica.merge_bytes(&k.id, &b)?;
            }
            Ok(())
        })
    }

    /// The document bytes of `id`, for another replica or a server.
    pub fn doc_bytes(&self, id: &str) -> Result<Vec<u8>> {
        Ok(store::load_doc(self.conn(), id)?
            .ok_or_else(|| Error::OrgNotFound(id.to_owned()))?
            .bytes)
    }

    /// Ids of every document held.
    pub fn doc_ids(&self) -> Result<Vec<String>> {
        Ok(store::all(self.conn())?
            .into_iter()
            .map(|p| p.record.id)
            .collect())
    }

    /// Merge Automerge bytes of `id` received from another replica or a server (a whole
    /// document or changes). A document not held yet is added. Immutable fields that a
    /// server accepted are then reset to the accepted values (design.md "Immutable fields").
    pub fn merge_bytes(&mut self, id: &str, bytes: &[u8]) -> Result<()> {
        let existing = store::load_doc(self.conn(), id)?;
        let (mut d, acked, dirty) = match &existing {
            Some(row) => {
                let mut d = AutoCommit::load(&row.bytes)?;
                d.load_incremental(bytes)?;
                (d, row.acked_heads.clone(), row.dirty)
            }
            None => (AutoCommit::load(bytes)?, None, false),
        };
        d.set_actor(self.actor().clone());
        let record = doc::read(&d);
        if record.id != id {
            return Err(Error::Refused(schemas::org::id_mismatch(id, &record.id)));
        }
        let mut dirty = dirty;
        if let Some(h) = &acked {
            let accepted = doc::read_at(&mut d, &heads::decode(h))?;
            if !doc::resolve_immutables(
                &mut d,
                &accepted,
                OffsetDateTime::now_utc().unix_timestamp(),
            )?
            .is_empty()
            {
                dirty = true;
            }
        }
        let record = doc::read(&d);
        let complete = self.completeness_of(&record).is_complete();
        store::save_doc(
            self.conn(),
            &record,
            complete,
            &d.save_nocompress(),
            acked.as_deref(),
            dirty,
        )?;
        Ok(())
    }

    /// Record that a server accepted `id` at `heads`: those heads become the accepted
    /// state, and the document is clean unless it changed since.
    pub fn acknowledge(&mut self, id: &str, heads: &[automerge::ChangeHash]) -> Result<()> {
        let row =
            store::load_doc(self.conn(), id)?.ok_or_else(|| Error::OrgNotFound(id.to_owned()))?;
        let mut d = AutoCommit::load(&row.bytes)?;
        let still_dirty = d.get_heads() != heads;
        let record = doc::read(&d);
        let complete = self.completeness_of(&record).is_complete();
        store::save_doc(
            self.conn(),
            &record,
            complete,
            &row.bytes,
            Some(&heads::encode(heads)),
            still_dirty,
        )?;
        store::clear_rejection(self.conn(), id)?;
        Ok(())
    }

    /// Read an Excel sheet and create its rows as direct children of `parent` (rules.md §10):
    /// every row judged first; while any fails nothing is created, the error lists every
    /// failing row (Excel row number, reasons), and an annotated copy is written to
    /// `annotated` if given.
    pub fn import_excel(
        &mut self,
        parent: &str,
        file: &Path,
        annotated: Option<&Path>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<ImportOutcome> {
        let rows = excel::read_import(file)?;
        self.import_rows(parent, &rows, annotated, progress)
    }

    /// [`Self::import_excel`] for rows already read.
    pub fn import_rows(
        &mut self,
        parent: &str,
        rows: &[ImportRow],
        annotated: Option<&Path>,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<ImportOutcome> {
        let children: Vec<NewChild> = rows
            .iter()
            .map(|r| NewChild {
                category: r.category.clone(),
                short_name: r.short_name.clone(),
                full_name: r.full_name.clone(),
                industry: r.industry.clone(),
                phone: r.phone.clone(),
                email: r.email.clone(),
                youth_count: r.youth_count.clone(),
                recommended_count: r.recommended_count.clone(),
            })
            .collect();
        let mut failures: HashMap<u32, Vec<Violation>> = HashMap::new();
        for r in rows.iter().filter(|r| !r.cell_errors.is_empty()) {
            failures
                .entry(r.row)
                .or_default()
                .extend(r.cell_errors.iter().cloned());
        }
        // Judged once: the records that pass are the ones written.
        let judged = self.judge_children(parent, &children)?;
        for (i, v) in judged.failures {
            failures.entry(rows[i].row).or_default().extend(v);
        }
        if !failures.is_empty() {
            let mut list: Vec<(u32, Vec<Violation>)> = failures.into_iter().collect();
            list.sort_by_key(|(row, _)| *row);
            if let Some(out) = annotated {
                excel::write_annotated(out, rows, &list)?;
            }
            return Err(Error::ImportRows(list));
        }
        self.check_in_subtree(parent)?;
        let created = self.write_children(&judged.records, judged.region, progress)?;
        Ok(ImportOutcome { created })
    }

    /// Export the valid codes of `parent`'s direct children to an .xlsx (批量导出注册码).
    pub fn export_codes(&self, parent: &str, path: &Path, now: OffsetDateTime) -> Result<usize> {
        let issuer = self.org(parent)?.record.short_name;
        let rows: Vec<CodeRow> = self
            .codes_of_children(parent, now)?
            .into_iter()
            .filter_map(|(_, c)| c)
            .map(|c| CodeRow {
                short_name: c.short_name,
                category: c.category,
                code: c.code,
                expires_at: beijing::minute(c.expires_at),
            })
            .collect();
        excel::write_codes(path, &issuer, &rows)?;
        Ok(rows.len())
    }

    /// Export the whole subtree as a table (mobiles masked: secretaries', and 联系电话 when it
    /// is a mobile).
    pub fn export_table(&self, path: &Path) -> Result<usize> {
        let tree = self.tree()?;
        let names: HashMap<String, String> = tree
            .iter()
            .map(|e| (e.record.id.clone(), e.record.short_name.clone()))
            .chain(self.ancestors()?.into_iter().map(|a| (a.id, a.short_name)))
            .collect();
        let rows: Vec<OrgTableRow> = tree
            .iter()
            .map(|e| {
                let r = &e.record;
                let c = self.completeness_of(r);
                OrgTableRow {
                    level: r.level,
                    parent: names.get(&r.parent).cloned().unwrap_or_default(),
                    short_name: r.short_name.clone(),
                    full_name: r.full_name.clone(),
                    category: r.category.clone(),
                    industry: r.industry.clone(),
                    // 联系电话 as the server's progress shows it: a mobile is personal.
                    phone: schemas::Mobile::parse(&r.phone)
                        .map(|m| m.masked())
                        .unwrap_or_else(|_| r.phone.clone()),
                    email: r.email.clone(),
                    secretary_name: r.secretary_name.clone(),
                    secretary_mobile_masked: schemas::Mobile::parse(&r.secretary_mobile)
                        .map(|m| m.masked())
                        .unwrap_or_default(),
                    complete: c.is_complete(),
                    missing: c
                        .missing
                        .iter()
                        .map(|f| f.label())
                        .collect::<Vec<_>>()
                        .join("、"),
                }
            })
            .collect();
        let own = self.own()?.record.short_name;
        excel::write_org_table(path, &format!("{own}组织列表"), &rows)?;
        Ok(rows.len())
    }

    /// The progress of the replica's own subtree by level below it (rules.md §11), with what
    /// the replica knows offline (logins and admins as last told by a server).
    pub fn progress(&self, now: OffsetDateTime) -> Result<Progress> {
        let tree = self.tree()?;
        let own = self.own()?.record;
        let mut kids: HashMap<&str, Vec<&str>> = HashMap::new();
        for e in &tree {
            kids.entry(e.record.parent.as_str())
                .or_default()
                .push(e.record.id.as_str());
        }
        let mut by_level: std::collections::BTreeMap<u8, LevelProgress> = Default::default();
        let local = beijing::at(now);
        let at = time::PrimitiveDateTime::new(local.date(), local.time());
        for e in tree.iter().filter(|e| e.record.id != own.id) {
            let r = &e.record;
            let facts = store::server_facts(self.conn(), &r.id)?;
            let children = kids.get(r.id.as_str()).cloned().unwrap_or_default();
            let mut without_code = 0;
            for k in &children {
                if self.valid_code(k, now)?.is_none()
                    && store::server_facts(self.conn(), k)?.admins.is_empty()
                {
                    without_code += 1;
                }
            }
            let level = Level::new(r.level).map_err(Error::from)?;
            let unit = UnitFacts {
                level,
                category: r.category(),
                logged_in: facts.logged_in,
                info_complete: e.complete,
                created_children: !children.is_empty(),
                children_without_code: without_code,
            };
            let tab = by_level.entry(r.level).or_insert_with(|| LevelProgress {
                level,
                title: progress::tab_title(level),
                counts: LevelCounts::default(),
                sentence: String::new(),
                rows: Vec::new(),
            });
            tab.counts.add(&unit);
            tab.rows.push(ProgressRow {
                org_id: r.id.clone(),
                short_name: r.short_name.clone(),
                logged_in: facts.logged_in,
                info_complete: e.complete,
                created_children: unit.expects_children().then_some(unit.created_children),
                admins: facts.admins.clone(),
                phone: r.phone.clone(),
                code: if facts.admins.is_empty() {
                    self.valid_code(&r.id, now)?.map(|c| c.code)
                } else {
                    None
                },
            });
        }
        for tab in by_level.values_mut() {
            tab.sentence = progress::summary_sentence(at, &own.short_name, tab.level, &tab.counts);
        }
        let nodes: Vec<TreeNode<'_>> = tree
            .iter()
            .map(|e| TreeNode {
                id: &e.record.id,
                parent: &e.record.parent,
                category: e.record.category(),
            })
            .collect();
        let names: HashMap<&str, &str> = tree
            .iter()
            .map(|e| (e.record.id.as_str(), e.record.short_name.as_str()))
            .collect();
        let without_branch = progress::committees_without_branch(&nodes)
            .into_iter()
            .map(|id| names.get(id).copied().unwrap_or(id).to_owned())
            .collect();
        Ok(Progress {
            levels: by_level.into_values().collect(),
            without_branch,
        })
    }

    /// Find an organization of the replica by id or by short name (unique in the subtree).
    pub fn resolve(&self, id_or_name: &str) -> Result<String> {
        if store::projected_one(self.conn(), id_or_name)?.is_some() {
            return Ok(id_or_name.to_owned());
        }
        let matches: Vec<String> = self
            .tree()?
            .into_iter()
            .filter(|e| schemas::name::names_equal(&e.record.short_name, id_or_name))
            .map(|e| e.record.id)
            .collect();
        match matches.len() {
            1 => Ok(matches.into_iter().next().unwrap_or_default()),
            0 => Err(Error::OrgNotFound(id_or_name.to_owned())),
            n => Err(Error::Refused(schemas::tree::ambiguous_name(id_or_name, n))),
        }
    }

    pub(crate) fn completeness_of(
        &self,
        r: &schemas::org::OrgRecord,
    ) -> schemas::org::Completeness {
        let chain = self.chain(&r.parent).unwrap_or_default();
        r.completeness(&Context {
            region: schemas::name::region_of_chain(&chain),
        })
    }
}
