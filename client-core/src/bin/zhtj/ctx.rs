//! What every command starts from: the data directory and the replica in it, the
//! organization and the field a user names, the server (with `--ca`) and the session of
//! the last login. Below the commands, above `output`.

use std::path::PathBuf;

use client_core::{Error, Remote, Replica};
use schemas::Field;
use schemas::org::INFO_FIELDS;

use crate::output::{CliResult, Failure};

/// The replica file inside the data directory.
pub const REPLICA_FILE: &str = "replica.sqlite3";

/// The global options every command sees.
pub struct Ctx {
    pub data: PathBuf,
    pub json: bool,
    /// `--ca`/`ZHTJ_CA`: a city's own CA, read only when a server is reached.
    pub ca: Option<PathBuf>,
}

impl Ctx {
    /// The PEM of `--ca`, if given.
    pub fn ca_pem(&self) -> CliResult<Option<Vec<u8>>> {
        let Some(path) = &self.ca else {
            return Ok(None);
        };
        std::fs::read(path).map(Some).map_err(|source| Failure::Io {
            message: format!("无法读取根证书文件 {}", path.display()),
            source,
        })
    }

    /// A client of `server`, trusting also `--ca`.
    pub fn remote(&self, server: &str) -> CliResult<Remote> {
        Ok(match self.ca_pem()? {
            Some(pem) => Remote::with_ca(server, &pem)?,
            None => Remote::new(server)?,
        })
    }

    pub fn replica_path(&self) -> PathBuf {
        self.data.join(REPLICA_FILE)
    }

    pub fn open(&self) -> CliResult<Replica> {
        Replica::open(&self.replica_path()).map_err(|error| {
            let missing = matches!(&error, Error::Refused(v) if v.code == "replica.missing");
            Failure::Core {
                error: Box::new(error),
                notes: if missing {
                    vec![
                        "请先用 zhtj init <单位> 离线初始化,或用 zhtj login 登录服务器下载本组织数据,或用 --data 指定已有的数据目录。"
                            .to_owned(),
                    ]
                } else {
                    Vec::new()
                },
            }
        })
    }

    /// The server and token of the last login, and `org` resolved by the replica's names
    /// (an id the replica does not hold is passed on as is: the server judges it).
    pub fn session(&self, org: Option<&str>) -> CliResult<(Remote, String, Option<String>)> {
        let replica = self.open()?;
        let token = match client_core::supervise::token(&replica) {
            Ok(t) => t,
            Err(error) => {
                return Err(Failure::Core {
                    error: Box::new(error),
                    notes: vec![
                        "查看服务器上的数据须先登录:zhtj login --server URL --mobile 手机号码。离线时可用 zhtj progress、zhtj history 查看本地数据。"
                            .to_owned(),
                    ],
                });
            }
        };
        let remote = replica.remote_with_ca(self.ca_pem()?.as_deref())?;
        let org = org
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(|o| replica.resolve(o).unwrap_or_else(|_| o.to_owned()));
        Ok((remote, token, org))
    }
}

/// The organization named by `org` (id or short name), or the own unit.
pub fn target(replica: &Replica, org: Option<&str>) -> CliResult<String> {
    match org {
        None => Ok(replica.own_id().to_owned()),
        Some(s) => Ok(replica.resolve(s.trim())?),
    }
}

/// The field named by a user: the Chinese label (`书记姓名`), the stable key
/// (`secretary_name`) or the import sheet's column header (`联系电话`); a trailing `*`
/// (the required mark) is ignored.
pub fn parse_field(name: &str) -> Option<Field> {
    let name = name.trim().trim_end_matches(['*', '*']).trim();
    Field::ALL
        .iter()
        .copied()
        .find(|f| f.label() == name || f.key() == name)
        .or_else(|| {
            INFO_FIELDS
                .iter()
                .copied()
                .find(|&f| client_core::excel::column_label(f) == Some(name))
        })
}
