//! The running server: open the store (on first start, the pre-initialized tree and the
//! registration code of 团成都市委's first administrator), load the TLS configuration, bind,
//! and serve the router (`crate::http`) on the connection loop (`crate::net`).

use std::net::SocketAddr;
use std::sync::Arc;

use time::OffsetDateTime;

use crate::config::Config;
use crate::error::{Error, Result};
use crate::http::{self, AppState, blocking};
use crate::storage::Store;
use crate::{identity, net, operator, schedule, tls};

/// Open the database, creating the pre-initialized tree on first start. Returns the store
/// and, on first start, the registration code for 团成都市委's first admin.
pub fn open_store(config: &Config) -> Result<(Store, Option<schemas::code::IssuedCode>)> {
    if config.postgres.is_none() {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            Error::Internal(format!("无法创建数据目录{}:{e}", config.data_dir.display()))
        })?;
    }
    let store = Store::connect(&config.location())?;
    if store.is_initialized()? || !operator::initialize_tree(&store)? {
        return Ok((store, None));
    }
    let city = schemas::initial::org_id(schemas::divisions::chengdu_code());
    let code = identity::operator_issue_code(&store, &city, OffsetDateTime::now_utc())?;
    Ok((store, Some(code)))
}

/// A running server.
pub struct Running {
    pub addr: SocketAddr,
    /// The first administrator's code, on first start only.
    pub first_code: Option<schemas::code::IssuedCode>,
    pub state: Arc<AppState>,
    pub task: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Open the store and start serving on `config.listen` (port 0 picks a free port).
pub async fn start(config: Config) -> Result<Running> {
    // Unreadable or invalid TLS files are refused before anything is created or bound.
    let tls = match &config.tls {
        Some(files) => {
            let files = files.clone();
            Some(blocking(move || tls::server_config(&files)).await?)
        }
        None => None,
    };
    let cfg = config.clone();
    let (store, first_code) = blocking(move || {
        let (store, first_code) = open_store(&cfg)?;
        if let Some(schedule) = &cfg.schedule {
            schedule::store_schedule(&store, schedule, "serve")?;
        }
        Ok((store, first_code))
    })
    .await?;
    let state = Arc::new(AppState::new(store, config.clone()));
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|e| Error::Internal(format!("无法监听{}:{e}", config.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let app = http::router(state.clone());
    let limits = config.net.clone();
    let task = match tls {
        None => tokio::spawn(net::serve(listener, app, limits)),
        Some(tls) => {
            let listener = tls::listener(listener, tls)
                .map_err(|e| Error::Internal(format!("无法监听{}:{e}", config.listen)))?;
            tokio::spawn(net::serve(listener, app, limits))
        }
    };
    Ok(Running {
        addr,
        first_code,
        state,
        task,
    })
}
